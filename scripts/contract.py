#!/usr/bin/env python3
"""Checks the /v1 contract against a live `plutus serve` on 127.0.0.1.

1. openapi.yaml is a valid OpenAPI document (openapi-spec-validator).
2. Live responses of every route, success and error alike, match the schema the spec
   gives for their status (jsonschema).
3. The original Python SDK (plutus-agent 1.1.0, remote mode) meters a call, and the call
   shows up in the export.
4. schemathesis fuzzes every operation, bounded in examples and time: no 5xx, and every
   response conforms to the spec.

Usage: scripts/contract.py PATH_TO_PLUTUS_BINARY. Exits non-zero on any failure.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADMIN = "contract-admin-token"
WEBHOOK_SECRET = "whsec_contract_secret"
SCHEMATHESIS_SECONDS = 240


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(base, method, path, body=None, token=None, headers=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


class Contract:
    def __init__(self, spec):
        self.spec = spec
        self.registry = Registry().with_resource("urn:spec", Resource.from_contents(spec, default_specification=DRAFT202012))
        self.failures = []
        self.passed = 0

    def resolve(self, node):
        while "$ref" in node:
            node = self.follow(node["$ref"])
        return node

    def follow(self, ref):
        node = self.spec
        for part in ref.lstrip("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def check(self, name, base, method, path, expect, body=None, token=None, headers=None, raw=None, template=None):
        """`template` is the documented path when `path` fills in its parameters."""
        status, response_headers, payload = request(base, method, path, body, token, headers, raw)
        problems = []
        if status != expect:
            problems.append(f"status {status}, expected {expect}: {payload[:200]!r}")
        documented_path = template or path.split("?")[0]
        operation = self.spec["paths"][documented_path][method.lower()]
        documented = operation["responses"].get(str(status))
        if documented is None:
            problems.append(f"status {status} is not documented")
        else:
            response = self.resolve(documented)
            content = response.get("content", {})
            media = (response_headers.get("Content-Type") or "").split(";")[0]
            if content and media not in content:
                problems.append(f"content type {media} is not documented")
            elif media == "application/json":
                pointer = self.pointer(documented_path, method.lower(), str(status), documented)
                schema = {"$ref": "urn:spec#" + pointer}
                validator = Draft202012Validator(schema, registry=self.registry)
                for error in validator.iter_errors(json.loads(payload)):
                    problems.append(f"schema: {error.message} at {list(error.absolute_path)}")
        if problems:
            self.failures.append(f"{name}: " + "; ".join(problems))
            print(f"  ✗ {name}: {problems[0]}")
        else:
            self.passed += 1
            print(f"  ✓ {name} ({status})")
        return status, payload

    def pointer(self, path, method, status, documented):
        escaped = path.replace("~", "~0").replace("/", "~1")
        if "$ref" in documented:
            return documented["$ref"][1:] + "/content/application~1json/schema"
        return f"/paths/{escaped}/{method}/responses/{status}/content/application~1json/schema"


def main():
    binary = sys.argv[1]
    spec = yaml.safe_load(open(os.path.join(ROOT, "openapi.yaml")))
    validate_spec(spec)
    print("✓ openapi.yaml is a valid OpenAPI 3.1 document")

    home = tempfile.mkdtemp(prefix="plutus-contract-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, PLUTUS_HOME=home, PLUTUS_ADMIN_TOKEN=ADMIN, PLUTUS_INGEST_RATE_PER_MIN="0",
               STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET)
    log = open(os.path.join(home, "serve.log"), "w")
    server = subprocess.Popen([binary, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                if request(base, "GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit("plutus serve did not start")
        contract = Contract(spec)
        run_contract(contract, base)
        run_sdk(contract, base)
        run_stripe_crosscheck(contract, base, binary)
        run_schemathesis(contract, base)
    finally:
        server.terminate()
        server.wait(timeout=10)
        print(f"  (server stopped with exit code {server.returncode})")
    print(f"contract: {contract.passed} passed, {len(contract.failures)} failed")
    for failure in contract.failures:
        print("  ✗ " + failure)
    sys.exit(1 if contract.failures else 0)


def run_contract(c, base):
    print("live responses against openapi.yaml:")
    c.check("health", base, "GET", "/healthz", 200)
    _, org = c.check("admin: create org", base, "POST", "/v1/admin/orgs", 201, {"name": "Contract Co", "tier": "pro"}, ADMIN)
    org_id = json.loads(org)["id"]
    c.check("admin: grant", base, "POST", "/v1/admin/credits", 201, {"org_id": org_id, "amount_usd": 5}, ADMIN,
            {"Idempotency-Key": "contract-grant"})
    c.check("admin: grant replay", base, "POST", "/v1/admin/credits", 200, {"org_id": org_id, "amount_usd": 5}, ADMIN,
            {"Idempotency-Key": "contract-grant"})
    c.check("admin: bad amount", base, "POST", "/v1/admin/credits", 400, {"org_id": org_id, "amount_usd": "x"}, ADMIN)
    c.check("admin: expiring grant", base, "POST", "/v1/admin/credits", 201,
            {"org_id": org_id, "amount_usd": 1, "kind": "grant", "priority": 10,
             "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 30 * 86400))}, ADMIN)
    c.check("admin: expired grant refused", base, "POST", "/v1/admin/credits", 400,
            {"org_id": org_id, "amount_usd": 1, "kind": "grant", "expires_at": "2001-01-01T00:00:00Z"}, ADMIN)
    c.check("admin: unknown org", base, "POST", "/v1/admin/credits", 404, {"org_id": "nope", "amount_usd": 1}, ADMIN)
    c.check("admin: wrong token", base, "GET", "/v1/admin/orgs", 401, token="wrong")
    c.check("admin: list orgs", base, "GET", "/v1/admin/orgs", 200, token=ADMIN)
    _, key = c.check("admin: create key", base, "POST", "/v1/admin/keys", 201, {"org_id": org_id, "name": "ci"}, ADMIN)
    secret = json.loads(key)["secret"]
    _, spare = c.check("admin: second key", base, "POST", "/v1/admin/keys", 201, {"org_id": org_id}, ADMIN)
    c.check("admin: list keys", base, "GET", f"/v1/admin/keys?org={org_id}", 200, token=ADMIN)
    c.check("admin: revoke", base, "POST", "/v1/admin/keys/revoke", 200,
            {"org_id": org_id, "key_id": json.loads(spare)["id"]}, ADMIN)
    event = {"provider": "anthropic", "model": "claude-opus-4-8", "input_tokens": 1000, "output_tokens": 500}
    c.check("usage: one event", base, "POST", "/v1/usage", 200, event, secret)
    c.check("usage: batch", base, "POST", "/v1/usage", 200, [event, {"provider": "openai", "cost_usd": 0.25}], secret,
            {"Idempotency-Key": "contract-batch"})
    c.check("usage: replay", base, "POST", "/v1/usage", 200, [event, {"provider": "openai", "cost_usd": 0.25}], secret,
            {"Idempotency-Key": "contract-batch"})
    c.check("usage: conflict", base, "POST", "/v1/usage", 409, [event], secret, {"Idempotency-Key": "contract-batch"})
    c.check("usage: hard stop", base, "POST", "/v1/usage", 402, {"provider": "p", "cost_usd": 100}, secret)
    c.check("usage: bad field", base, "POST", "/v1/usage", 400, {"provider": "p", "input_tokens": True}, secret)
    c.check("usage: not JSON", base, "POST", "/v1/usage", 400, token=secret, raw=b"{nope")
    c.check("usage: too large", base, "POST", "/v1/usage", 413, token=secret, raw=b" " * (1048576 + 1))
    c.check("usage: no key", base, "POST", "/v1/usage", 401, event)
    c.check("balance", base, "GET", "/v1/balance", 200, token=secret)
    c.check("export json", base, "GET", "/v1/usage/export.json", 200, token=secret)
    c.check("export json page", base, "GET", "/v1/usage/export.json?limit=1", 200, token=secret)
    c.check("export csv", base, "GET", "/v1/usage/export.csv?since=0", 200, token=secret)
    c.check("export bad time", base, "GET", "/v1/usage/export.json?since=later", 400, token=secret)
    hold = {"amount_usd": 0.5, "workspace": "contract", "ttl_seconds": 120, "metadata": {"step": 1}}
    _, placed = c.check("hold: place", base, "POST", "/v1/reservations", 201, hold, secret,
                        {"Idempotency-Key": "contract-hold"})
    held = json.loads(placed)["reservation_id"]
    c.check("hold: replay", base, "POST", "/v1/reservations", 201, hold, secret, {"Idempotency-Key": "contract-hold"})
    _, worst = c.check("hold: worst case from the catalog", base, "POST", "/v1/reservations", 201,
                       {"provider": "anthropic", "model": "claude-opus-4-8", "input_tokens": 12000,
                        "max_output_tokens": 4096}, secret)
    c.check("hold: more than available", base, "POST", "/v1/reservations", 402, {"amount_usd": 1000}, secret)
    c.check("hold: unknown field", base, "POST", "/v1/reservations", 400, {"amount": 1}, secret)
    c.check("hold: show", base, "GET", f"/v1/reservations/{held}", 200, token=secret, template="/v1/reservations/{id}")
    c.check("hold: list active", base, "GET", "/v1/reservations?active=true", 200, token=secret)
    settle = {"provider": "openai", "model": "gpt-5-mini", "cost_usd": 0.2}
    c.check("hold: settle", base, "POST", f"/v1/reservations/{held}/settle", 200, settle, secret,
            template="/v1/reservations/{id}/settle")
    c.check("hold: settle again", base, "POST", f"/v1/reservations/{held}/settle", 200, settle, secret,
            template="/v1/reservations/{id}/settle")
    c.check("hold: release a settled hold", base, "POST", f"/v1/reservations/{held}/release", 409, token=secret,
            template="/v1/reservations/{id}/release")
    c.check("hold: release", base, "POST", f"/v1/reservations/{json.loads(worst)['reservation_id']}/release", 200,
            token=secret, template="/v1/reservations/{id}/release")
    c.check("hold: unknown id", base, "GET", "/v1/reservations/rsv_0000000000000000", 404, token=secret,
            template="/v1/reservations/{id}")
    _, made = c.check("admin: budget", base, "POST", "/v1/admin/budgets", 201,
                      {"org_id": org_id, "scope": "workspace", "scope_id": "capped", "limit_usd": 0.3, "period": "day",
                       "mode": "hard", "alert_at": [0.5, 1.0]}, ADMIN)
    budget_id = json.loads(made)["budget_id"]
    c.check("admin: bad budget", base, "POST", "/v1/admin/budgets", 400,
            {"org_id": org_id, "scope": "everything", "limit_usd": 1}, ADMIN)
    c.check("usage: within the budget", base, "POST", "/v1/usage", 200,
            {"provider": "p", "cost_usd": 0.2, "workspace": "capped", "run_id": "run-1"}, secret)
    c.check("usage: over the budget", base, "POST", "/v1/usage", 402,
            {"provider": "p", "cost_usd": 0.2, "workspace": "capped"}, secret)
    c.check("hold: over the budget", base, "POST", "/v1/reservations", 402, {"amount_usd": 0.2, "workspace": "capped"},
            secret)
    c.check("admin: list budgets", base, "GET", f"/v1/admin/budgets?org_id={org_id}", 200, token=ADMIN)
    c.check("admin: disable budget", base, "POST", f"/v1/admin/budgets/{budget_id}/disable", 200, {"org_id": org_id},
            ADMIN, template="/v1/admin/budgets/{id}/disable")
    c.check("admin: add member", base, "POST", "/v1/admin/members", 201,
            {"org_id": org_id, "email": "owner@contract.example", "role": "owner"}, ADMIN)
    c.check("admin: change role", base, "POST", "/v1/admin/members", 200,
            {"org_id": org_id, "email": "owner@contract.example", "role": "owner"}, ADMIN)
    c.check("admin: bad role", base, "POST", "/v1/admin/members", 400,
            {"org_id": org_id, "email": "x@contract.example", "role": "king"}, ADMIN)
    c.check("admin: list members", base, "GET", f"/v1/admin/members?org_id={org_id}", 200, token=ADMIN)
    c.check("admin: remove the last owner", base, "POST", "/v1/admin/members/remove", 409,
            {"org_id": org_id, "email": "owner@contract.example"}, ADMIN)
    c.check("admin: remove a stranger", base, "POST", "/v1/admin/members/remove", 404,
            {"org_id": org_id, "email": "nobody@contract.example"}, ADMIN)
    c.check("admin: invite without sign-in", base, "POST", "/v1/admin/invitations", 409,
            {"org_id": org_id, "email": "new@contract.example"}, ADMIN)
    c.secret = secret


def run_sdk(c, base):
    print("the original Python SDK (plutus-agent 1.1.0, remote mode):")
    from plutus_agent import Meter

    meter = Meter(remote=base, api_key=c.secret)
    result = meter.track("anthropic", model="claude-haiku-4-5", task_type="sdk-contract", input_tokens=1200,
                         output_tokens=300, workspace="sdk")
    _, _, payload = request(base, "GET", "/v1/usage/export.json", token=c.secret)
    exported = [e for e in json.loads(payload)["events"] if e["id"] == result.event_id]
    if result.recorded and result.event_id and len(exported) == 1 and exported[0]["task_type"] == "sdk-contract":
        c.passed += 1
        print(f"  ✓ Meter.track recorded {result.event_id} (cost ${result.cost_usd}) and it is in the export")
    else:
        c.failures.append(f"sdk: track returned {result!r}; export has {exported!r}")


def run_stripe_crosscheck(c, base, binary):
    """Our signatures verify with the official `stripe` package, and its signatures with us."""
    print("Stripe signatures against the official stripe Python package:")
    import stripe

    payload = json.dumps({
        "id": "evt_crosscheck_1", "object": "event", "type": "checkout.session.completed", "created": int(time.time()),
        "data": {"object": {"id": "cs_x", "object": "checkout.session", "mode": "payment", "amount_total": 1234,
                            "currency": "usd", "payment_status": "paid", "payment_intent": "pi_crosscheck",
                            "client_reference_id": "contract-co", "metadata": {"amount_usd": "9999"}}},
    })
    ours = subprocess.run([binary, "stripe-sign", "--secret", WEBHOOK_SECRET], input=payload.encode(),
                          capture_output=True, check=True).stdout.decode().strip()
    try:
        event = stripe.Webhook.construct_event(payload, ours, WEBHOOK_SECRET)
        assert event["id"] == "evt_crosscheck_1"
        c.passed += 1
        print("  ✓ a header from `plutus stripe-sign` verifies with stripe.Webhook.construct_event")
    except Exception as error:  # noqa: BLE001 - any failure is a contract failure
        c.failures.append(f"stripe rejected our signature: {error!r}")
    theirs = stripe.WebhookSignature.generate_signature_header(payload, WEBHOOK_SECRET)
    status, _, body = request(base, "POST", "/webhook/stripe", raw=payload.encode(), headers={"Stripe-Signature": theirs})
    result = json.loads(body).get("result", {}) if status == 200 else {}
    if status == 200 and result.get("status") == "credited" and result.get("amount_usd") == 12.34:
        c.passed += 1
        print("  ✓ a delivery signed by the stripe package is accepted and credits amount_total ($12.34)")
    else:
        c.failures.append(f"webhook signed by stripe: {status} {body[:300]!r}")
    forged = theirs.replace("v1=", "v1=0")[: len(theirs)]
    status, _, _ = request(base, "POST", "/webhook/stripe", raw=payload.encode(), headers={"Stripe-Signature": forged})
    if status == 400:
        c.passed += 1
        print("  ✓ a forged signature is refused (400)")
    else:
        c.failures.append(f"forged signature answered {status}")


def run_schemathesis(c, base):
    print(f"schemathesis (at most {SCHEMATHESIS_SECONDS} s):")
    runs = [
        ("api key", c.secret, ["--exclude-path-regex", "^/v1/admin"]),
        ("admin token", ADMIN, ["--include-path-regex", "^/v1/admin"]),
    ]
    budget = SCHEMATHESIS_SECONDS / len(runs)
    for name, token, selection in runs:
        command = [
            os.path.join(os.path.dirname(sys.executable), "schemathesis"), "run", os.path.join(ROOT, "openapi.yaml"),
            "--url", base, "-H", f"Authorization: Bearer {token}", "--checks", "all",
            # positive_data_acceptance: valid-looking data may still name unknown orgs (404).
            # ensure_resource_availability: its stateful chain revokes a new key under a
            # random org, which is rightly 404 because revocation is scoped to the key's org.
            "--exclude-checks", "positive_data_acceptance,ensure_resource_availability",
            "--max-examples", "40", "--workers", "1", "--request-timeout", "10", "--seed", "1337",
            "--suppress-health-check", "all",
        ] + selection
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=budget)
        except subprocess.TimeoutExpired as timeout:
            print(f"  ... {name}: stopped at the time bound")
            output = (timeout.stdout or b"").decode() if isinstance(timeout.stdout, bytes) else (timeout.stdout or "")
            if "Server error" in output or "500 Internal" in output:
                c.failures.append(f"schemathesis ({name}): a server error before the time bound")
            continue
        tail = "\n".join(result.stdout.strip().splitlines()[-12:])
        if result.returncode == 0:
            c.passed += 1
            print(f"  ✓ {name}: no failures\n" + "\n".join("      " + line for line in tail.splitlines()[-4:]))
        else:
            c.failures.append(f"schemathesis ({name}) found failures:\n{result.stdout[-6000:]}")
            print(f"  ✗ {name}:\n{tail}")


if __name__ == "__main__":
    main()
