//! submit_sm handling over real TCP: ids, receipts (text/TLV, formats, duplicates, per
//! segment), concatenation forms, throttling, failure mix, pipelining, exact ledger counts.

mod common;

use std::time::Duration;

use carrier_sim::{
    IdFormat, Latency, ReceiptForm, ReceiptState, Scenario,
    receipt::ReceiptText,
    scenario::{ErrorRule, OutcomeRule},
    text::{encode_gsm7, encode_ucs2},
};
use common::{
    Bind, Esme, eventually, message_id, receipt_tlvs, short_text, sim, submit, submit_bytes,
};
use rusmpp::{
    CommandStatus, tlvs::MessageSubmissionRequestTlvValue, types::AnyOctetString,
    values::MessagePayload,
};

fn fast_receipts() -> Scenario {
    let mut s = Scenario::default();
    s.receipts.delay = Latency::fixed_ms(10);
    s
}

#[tokio::test]
async fn submit_gets_id_and_receipt_with_text_and_tlvs() -> anyhow::Result<()> {
    let sim = sim(fast_receipts()).await;
    let mut esme = Esme::bound(sim.smpp_addr(), Bind::Trx).await?;
    let r = esme
        .request(submit("+4915100000010", "Hello receipt"))
        .await?;
    assert_eq!(r.status(), CommandStatus::EsmeRok);
    let id = message_id(&r);
    assert_eq!(id, "1000000000", "decimal ids from the default start");
    let d = esme.deliver_sm().await?;
    assert_eq!(u8::from(d.esm_class), 0x04);
    assert_eq!(d.source_addr.as_str(), "+4915100000010");
    assert_eq!(d.destination_addr.as_str(), "SMSFLOW");
    let text = ReceiptText::parse(&short_text(&d)).expect("receipt text");
    assert_eq!(text.id, id);
    assert_eq!(text.stat, "DELIVRD");
    assert_eq!((text.sub, text.dlvrd, text.err), (1, 1, 0));
    assert_eq!(text.text, "Hello receipt");
    assert_eq!(text.submit_date.len(), 10);
    assert_eq!(receipt_tlvs(&d), (Some(id.clone()), Some(2)));

    let ledger = sim.ledger();
    assert!(eventually(|| ledger.summary().receipts_acked == 1).await);
    let s = ledger.summary();
    assert_eq!(
        (
            s.submits_received,
            s.accepted,
            s.unique_segments,
            s.duplicate_segments,
            s.receipts_sent
        ),
        (1, 1, 1, 0, 1)
    );
    let seg = &ledger.segments("4915100000010")[0];
    assert_eq!(seg.text, "Hello receipt");
    assert_eq!(seg.message_ids, vec![id.clone()]);
    assert_eq!(seg.receipts.len(), 1);
    assert_eq!(seg.receipts[0].message_id, id);
    assert_eq!(seg.receipts[0].state, ReceiptState::Delivrd);
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn hex_response_decimal_receipt() -> anyhow::Result<()> {
    let mut scenario = fast_receipts();
    scenario.ids.response_format = IdFormat::HexUpper;
    scenario.ids.receipt_format = Some(IdFormat::Decimal);
    scenario.ids.start = 3_000_000_000;
    let sim = sim(scenario).await;
    let mut esme = Esme::bound(sim.smpp_addr(), Bind::Trx).await?;
    let r = esme.request(submit("4915100000011", "hex")).await?;
    assert_eq!(message_id(&r), "B2D05E00");
    let d = esme.deliver_sm().await?;
    assert_eq!(
        ReceiptText::parse(&short_text(&d)).unwrap().id,
        "3000000000"
    );
    assert_eq!(receipt_tlvs(&d).0.as_deref(), Some("3000000000"));
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn receipt_forms_and_outcomes() -> anyhow::Result<()> {
    for form in [ReceiptForm::Text, ReceiptForm::Tlv] {
        let mut scenario = fast_receipts();
        scenario.receipts.form = form;
        scenario.receipts.outcomes = vec![OutcomeRule {
            state: ReceiptState::Undeliv,
            weight: 1.0,
            error_code: 5,
        }];
        let sim = sim(scenario).await;
        let mut esme = Esme::bound(sim.smpp_addr(), Bind::Trx).await?;
        let id = message_id(&esme.request(submit("4915100000012", "form")).await?);
        let d = esme.deliver_sm().await?;
        match form {
            ReceiptForm::Text => {
                let t = ReceiptText::parse(&short_text(&d)).unwrap();
                assert_eq!(
                    (t.id.as_str(), t.stat.as_str(), t.err, t.dlvrd),
                    (id.as_str(), "UNDELIV", 5, 0)
                );
                assert_eq!(receipt_tlvs(&d), (None, None));
            }
            _ => {
                assert!(d.short_message().is_empty());
                assert_eq!(receipt_tlvs(&d), (Some(id), Some(5)));
            }
        }
        sim.shutdown().await;
    }
    Ok(())
}

#[tokio::test]
async fn duplicate_receipts_when_configured() -> anyhow::Result<()> {
    let mut scenario = fast_receipts();
    scenario.receipts.duplicate_probability = 1.0;
    scenario.receipts.duplicate_delay_ms = 20;
    let sim = sim(scenario).await;
    let mut esme = Esme::bound(sim.smpp_addr(), Bind::Trx).await?;
    let id = message_id(&esme.request(submit("4915100000013", "twice")).await?);
    let a = esme.deliver_sm().await?;
    let b = esme.deliver_sm().await?;
    assert_eq!(receipt_tlvs(&a).0.as_deref(), Some(id.as_str()));
    assert_eq!(receipt_tlvs(&b).0.as_deref(), Some(id.as_str()));
    assert!(esme.no_deliver_within(Duration::from_millis(200)).await);
    let ledger = sim.ledger();
    assert!(eventually(|| ledger.summary().receipts_acked == 2).await);
    let seg = &ledger.segments("4915100000013")[0];
    assert_eq!(
        seg.receipts.iter().map(|r| r.duplicate).collect::<Vec<_>>(),
        vec![false, true]
    );
    assert_eq!(
        ledger.summary().duplicate_segments,
        0,
        "duplicate receipts are not duplicate submits"
    );
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn no_receipt_without_registered_delivery() -> anyhow::Result<()> {
    let sim = sim(fast_receipts()).await;
    let mut esme = Esme::bound(sim.smpp_addr(), Bind::Trx).await?;
    let mut sm = submit("4915100000014", "quiet");
    sm.registered_delivery = rusmpp::values::RegisteredDelivery::from(0);
    assert_eq!(esme.request(sm).await?.status(), CommandStatus::EsmeRok);
    assert!(esme.no_deliver_within(Duration::from_millis(150)).await);
    assert_eq!(sim.ledger().summary().receipts_sent, 0);
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn concatenation_forms_one_receipt_per_segment_and_duplicates_counted() -> anyhow::Result<()>
{
    let sim = sim(fast_receipts()).await;
    let mut esme = Esme::bound(sim.smpp_addr(), Bind::Trx).await?;
    let dest = "4915100000015";
    // 8-bit UDH, GSM-7, two parts
    for (seq, part) in [(1u8, "first part "), (2, "second part")] {
        let mut p = vec![0x05, 0x00, 0x03, 0x42, 0x02, seq];
        p.extend(encode_gsm7(part).unwrap());
        let r = esme.request(submit_bytes(dest, &p, 0x40, 0)).await?;
        assert_eq!(r.status(), CommandStatus::EsmeRok);
    }
    // the second part again (a resend): a duplicate segment
    let mut p = vec![0x05, 0x00, 0x03, 0x42, 0x02, 0x02];
    p.extend(encode_gsm7("second part").unwrap());
    esme.request(submit_bytes(dest, &p, 0x40, 0)).await?;
    // 16-bit UDH, UCS-2
    let mut p = vec![0x06, 0x08, 0x04, 0x12, 0x34, 0x01, 0x01];
    p.extend(encode_ucs2("ünïcode 😀"));
    esme.request(submit_bytes(dest, &p, 0x40, 8)).await?;
    // sar_* TLVs
    let mut sm = submit(dest, "sar part");
    sm.push_tlv(MessageSubmissionRequestTlvValue::SarMsgRefNum(0x0777));
    sm.push_tlv(MessageSubmissionRequestTlvValue::SarTotalSegments(3));
    sm.push_tlv(MessageSubmissionRequestTlvValue::SarSegmentSeqnum(3));
    esme.request(sm).await?;
    // message_payload with sm_length 0
    let mut sm = submit_bytes(dest, &[], 0, 0);
    sm.push_tlv(MessageSubmissionRequestTlvValue::MessagePayload(
        MessagePayload::new(AnyOctetString::from_vec(
            encode_gsm7(&"long ".repeat(60)).unwrap(),
        )),
    ));
    esme.request(sm).await?;

    for _ in 0..6 {
        esme.deliver_sm().await?;
    }
    let ledger = sim.ledger();
    let segs = ledger.segments(dest);
    assert_eq!(segs.len(), 5);
    let texts: Vec<_> = segs.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(
        texts[..4],
        ["first part ", "second part", "ünïcode 😀", "sar part"]
    );
    assert_eq!(segs[4].text.len(), 300);
    let c = segs[1].concat.unwrap();
    assert_eq!((c.reference, c.total, c.seq), (0x42, 2, 2));
    assert_eq!(segs[1].accepted, 2);
    assert_eq!(segs[1].message_ids.len(), 2);
    assert_eq!(segs[2].concat.unwrap().reference, 0x1234);
    assert_eq!(segs[3].concat.unwrap().reference, 0x0777);
    assert!(segs[4].concat.is_none() && segs[4].payload_hex.is_some());
    assert!(eventually(|| ledger.summary().receipts_acked == 6).await);
    let s = ledger.summary();
    assert_eq!(
        (
            s.submits_received,
            s.accepted,
            s.unique_segments,
            s.duplicate_segments,
            s.receipts_sent
        ),
        (6, 6, 5, 1, 6)
    );
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn throttles_above_tps_cap() -> anyhow::Result<()> {
    let mut scenario = Scenario::default();
    scenario.throttle.tps = 5;
    let sim = sim(scenario).await;
    let mut esme = Esme::bound(sim.smpp_addr(), Bind::Trx).await?;
    esme.auto_ack = Some(CommandStatus::EsmeRok);
    let mut seqs = Vec::new();
    for i in 0..20 {
        seqs.push(
            esme.send(submit("4915100000016", &format!("burst {i}")))
                .await?,
        );
    }
    let mut statuses = Vec::new();
    for seq in seqs {
        statuses.push(u32::from(esme.response(seq).await?.status()));
    }
    assert_eq!(
        statuses.iter().filter(|&&s| s == 0).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|&&s| s == 0x58).count(), 15);
    let s = sim.ledger().summary();
    assert_eq!((s.submits_received, s.accepted, s.throttled), (20, 5, 15));
    // after a second the bucket has refilled
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = esme.request(submit("4915100000016", "later")).await?;
    assert_eq!(r.status(), CommandStatus::EsmeRok);
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn failure_mix_statuses() -> anyhow::Result<()> {
    let mut scenario = Scenario::default();
    scenario.submit.errors = vec![ErrorRule {
        status: 0x0B,
        probability: 1.0,
    }];
    let sim = sim(scenario).await;
    let mut esme = Esme::bound(sim.smpp_addr(), Bind::Trx).await?;
    let r = esme.request(submit("4915100000017", "nope")).await?;
    assert_eq!(u32::from(r.status()), 0x0B);
    let s = sim.ledger().summary();
    assert_eq!((s.submits_received, s.failed, s.accepted), (1, 1, 0));
    assert_eq!(sim.ledger().segments("4915100000017")[0].rejected, 1);
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn window_pipelining_with_latency() -> anyhow::Result<()> {
    let mut scenario = Scenario::default();
    scenario.submit.latency = Latency::Uniform {
        min_ms: 5,
        max_ms: 50,
    };
    scenario.receipts.delay = Latency::fixed_ms(0);
    let sim = sim(scenario).await;
    let mut esme = Esme::bound(sim.smpp_addr(), Bind::Trx).await?;
    esme.auto_ack = Some(CommandStatus::EsmeRok);
    let mut seqs = Vec::new();
    for i in 0..200 {
        seqs.push(
            esme.send(submit("4915100000018", &format!("window {i}")))
                .await?,
        );
    }
    let mut ids = std::collections::HashSet::new();
    for seq in seqs {
        let r = esme.response(seq).await?;
        assert_eq!(r.status(), CommandStatus::EsmeRok);
        ids.insert(message_id(&r));
    }
    assert_eq!(ids.len(), 200, "unique ids");
    let ledger = sim.ledger();
    assert!(eventually(|| ledger.summary().receipts_acked == 200).await);
    sim.shutdown().await;
    Ok(())
}
