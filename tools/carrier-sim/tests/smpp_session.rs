//! Session-level SMPP behaviour over real TCP: bind state, credentials, interface
//! versions, generic_nack, enquire_link, unbind.

mod common;

use carrier_sim::Scenario;
use common::{Bind, Esme, sim, submit};
use rusmpp::{CommandId, CommandStatus, Pdu, values::InterfaceVersion};

#[tokio::test]
async fn submit_before_bind_is_rinvbndsts() -> anyhow::Result<()> {
    let sim = sim(Scenario::default()).await;
    let mut esme = Esme::connect(sim.smpp_addr()).await?;
    let r = esme.request(submit("4915100000001", "too early")).await?;
    assert_eq!(r.id(), CommandId::SubmitSmResp);
    assert_eq!(u32::from(r.status()), 0x04);
    // a receiver may not submit either
    let mut rx = Esme::bound(sim.smpp_addr(), Bind::Rx).await?;
    let r = rx.request(submit("4915100000001", "receiver")).await?;
    assert_eq!(u32::from(r.status()), 0x04);
    // after bind_transmitter it works
    assert_eq!(
        esme.bind(Bind::Tx, "smsflow", "secret", 0x34)
            .await?
            .status(),
        CommandStatus::EsmeRok
    );
    let r = esme.request(submit("4915100000001", "now")).await?;
    assert_eq!(r.status(), CommandStatus::EsmeRok);
    let s = sim.ledger().summary();
    assert_eq!(
        s.submits_received, 1,
        "refused submits are not in the ledger"
    );
    assert_eq!(s.binds, 2);
    assert_eq!(s.current_sessions, 2);
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn unknown_command_gets_generic_nack_and_session_continues() -> anyhow::Result<()> {
    let sim = sim(Scenario::default()).await;
    let mut esme = Esme::bound(sim.smpp_addr(), Bind::Trx).await?;
    // command_id 0x00000199 (unassigned), sequence 77, no body
    esme.send_raw(&[0, 0, 0, 16, 0, 0, 0x01, 0x99, 0, 0, 0, 0, 0, 0, 0, 77])
        .await?;
    let nack = esme.response(77).await?;
    assert_eq!(nack.id(), CommandId::GenericNack);
    assert_eq!(u32::from(nack.status()), 0x03);
    // query_sm is known to SMPP but not supported here: also 0x03
    esme.send_raw(&[
        0, 0, 0, 21, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 78, b'1', 0, 0, 0, 0,
    ])
    .await?;
    let nack = esme.response(78).await?;
    assert_eq!(nack.id(), CommandId::GenericNack);
    assert_eq!(u32::from(nack.status()), 0x03);
    // a malformed submit_sm body: generic_nack 0x02, session goes on
    esme.send_raw(&[
        0, 0, 0, 19, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 79, 0xFF, 0xFF, 0xFF,
    ])
    .await?;
    let nack = esme.response(79).await?;
    assert_eq!(nack.id(), CommandId::GenericNack);
    assert_eq!(u32::from(nack.status()), 0x02);
    let r = esme.request(Pdu::EnquireLink).await?;
    assert_eq!(r.id(), CommandId::EnquireLinkResp);
    let r = esme.request(submit("4915100000002", "still alive")).await?;
    assert_eq!(r.status(), CommandStatus::EsmeRok);
    assert_eq!(sim.ledger().summary().generic_nacks, 3);
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn binds_with_interface_version_0x34_and_0x50() -> anyhow::Result<()> {
    let sim = sim(Scenario::default()).await;
    for (kind, version) in [
        (Bind::Trx, 0x34),
        (Bind::Trx, 0x50),
        (Bind::Tx, 0x50),
        (Bind::Rx, 0x34),
    ] {
        let mut esme = Esme::connect(sim.smpp_addr()).await?;
        let r = esme.bind(kind, "smsflow", "secret", version).await?;
        assert_eq!(r.status(), CommandStatus::EsmeRok, "{kind:?} {version:#x}");
        let sc = match r.pdu() {
            Some(Pdu::BindTransceiverResp(b)) => b.sc_interface_version(),
            Some(Pdu::BindTransmitterResp(b)) => b.sc_interface_version(),
            Some(Pdu::BindReceiverResp(b)) => b.sc_interface_version(),
            other => panic!("unexpected {other:?}"),
        };
        let expected = if version == 0x50 {
            InterfaceVersion::Smpp5_0
        } else {
            InterfaceVersion::Smpp3_4
        };
        assert_eq!(sc, Some(expected));
    }
    assert_eq!(sim.ledger().summary().binds, 4);
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn bad_credentials_and_double_bind_are_refused() -> anyhow::Result<()> {
    let sim = sim(Scenario::default()).await;
    let mut esme = Esme::connect(sim.smpp_addr()).await?;
    let r = esme.bind(Bind::Trx, "smsflow", "wrong", 0x34).await?;
    assert_eq!(r.id(), CommandId::BindTransceiverResp);
    assert_eq!(u32::from(r.status()), 0x0E);
    let r = esme.bind(Bind::Tx, "nobody", "secret", 0x34).await?;
    assert_eq!(u32::from(r.status()), 0x0D);
    // the session is still usable and unbound
    let r = esme.request(submit("4915100000003", "x")).await?;
    assert_eq!(u32::from(r.status()), 0x04);
    let r = esme.bind(Bind::Trx, "smsflow", "secret", 0x34).await?;
    assert_eq!(r.status(), CommandStatus::EsmeRok);
    let r = esme.bind(Bind::Trx, "smsflow", "secret", 0x34).await?;
    assert_eq!(u32::from(r.status()), 0x05, "ESME_RALYBND");
    let s = sim.ledger().summary();
    assert_eq!((s.binds, s.bind_failures), (1, 3));
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn error_body_nul_variant() -> anyhow::Result<()> {
    let mut scenario = Scenario::default();
    scenario.smsc.error_body = carrier_sim::scenario::ErrorBody::Nul;
    let sim = sim(scenario).await;
    let mut esme = Esme::connect(sim.smpp_addr()).await?;
    let r = esme.request(submit("4915100000004", "x")).await?;
    assert_eq!(u32::from(r.status()), 0x04);
    assert!(matches!(r.pdu(), Some(Pdu::SubmitSmResp(b)) if b.message_id().is_empty()));
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn unbind_answers_then_closes() -> anyhow::Result<()> {
    let sim = sim(Scenario::default()).await;
    let mut esme = Esme::bound(sim.smpp_addr(), Bind::Trx).await?;
    let r = esme.request(Pdu::Unbind).await?;
    assert_eq!(r.id(), CommandId::UnbindResp);
    assert!(esme.closed().await);
    let ledger = sim.ledger();
    assert!(common::eventually(|| ledger.summary().current_sessions == 0).await);
    sim.shutdown().await;
    Ok(())
}
