#!/usr/bin/env python3
"""Slipstream from Python: a walk through the gRPC API with grpcio and stubs generated from proto/.

    ./generate.sh                     # stubs into ./generated (protoc + grpc_python_plugin)
    python3 example.py --address 127.0.0.1:3000

Every step checks what the server answered; the script exits 1 at the first wrong answer or
failed call, 0 when all checks pass (test/interop/python.test.ts runs it against a real node).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import grpc

here = os.path.dirname(os.path.abspath(__file__))
parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--address", default="127.0.0.1:3000", help="a node, host:port")
parser.add_argument("--stubs", default=os.path.join(here, "generated"), help="folder of generated stubs")
parser.add_argument("--namespace", default="test")
parser.add_argument("--set", default=f"py{os.getpid()}", help="set the example writes to")
args = parser.parse_args()

sys.path.insert(0, here)
import slipstream_client as ss  # noqa: E402

ss.use_stubs(args.stubs)
from slipstream.v1 import kv_pb2, kv_pb2_grpc, query_pb2, query_pb2_grpc, admin_pb2, admin_pb2_grpc, udf_pb2, udf_pb2_grpc, aql_pb2, aql_pb2_grpc  # noqa: E402
from slipstream.v1 import types_pb2 as t  # noqa: E402

checks = 0


def check(what: str, got, want) -> None:
    """Stops the example (exit 1) when the server's answer is not the expected one."""
    global checks
    if got != want:
        print(f"FAIL {what}: got {got!r}, want {want!r}", file=sys.stderr)
        sys.exit(1)
    checks += 1
    print(f"ok   {what}")


def expect_error(what: str, result_code: int, fn, request) -> ss.SlipstreamError:
    """Runs a call that must fail with the given result code (read from the trailing metadata)."""
    try:
        ss.call(fn, request)
    except ss.SlipstreamError as e:
        check(f"{what} fails with result code {result_code}", (e.result_code, e.result_name is not None), (result_code, True))
        return e
    print(f"FAIL {what}: succeeded, want result code {result_code}", file=sys.stderr)
    sys.exit(1)


ns, set_name = args.namespace, args.set
channel = grpc.insecure_channel(args.address)
grpc.channel_ready_future(channel).result(timeout=10)
kv = kv_pb2_grpc.KeyValueServiceStub(channel)
query = query_pb2_grpc.QueryServiceStub(channel)
admin = admin_pb2_grpc.AdminServiceStub(channel)
udf = udf_pb2_grpc.UdfServiceStub(channel)
aql = aql_pb2_grpc.AqlServiceStub(channel)

# --- node -------------------------------------------------------------------------------------
info = ss.call(admin.GetNodeInfo, admin_pb2.GetNodeInfoRequest(), retries=2)
check("node info has an id", info.node_id != "", True)
namespaces = [n.name for n in ss.call(admin.ListNamespaces, admin_pb2.ListNamespacesRequest(), retries=2).namespaces]
check(f"namespace {ns} exists", ns in namespaces, True)

# --- put --------------------------------------------------------------------------------------
people = {
    "ada": {"name": "Ada", "age": 36, "score": 9.5, "tags": ["math", "engines"], "langs": {"en": 1}},
    "alan": {"name": "Alan", "age": 41, "score": 8.25, "tags": ["logic"], "langs": {"en": 1, "de": 2}},
    "grace": {"name": "Grace", "age": 85, "score": 7.0, "tags": [], "langs": {}},
}
for user_key, record in people.items():
    res = ss.call(kv.Put, kv_pb2.PutRequest(
        key=ss.key(ns, set_name, user_key), bins=ss.bins(record),
        # Store the user key with the record so reads and scans return it; keep 1 hour.
        policy=t.WritePolicy(send_key=True, ttl=3600)))
    check(f"put {user_key}: generation 1", res.meta.generation, 1)

ada = ss.key(ns, set_name, "ada")

# --- get, with policies -----------------------------------------------------------------------
rec = ss.call(kv.Get, kv_pb2.GetRequest(key=ada), retries=2).record
check("get ada: all bins", ss.bins_of(rec), people["ada"])
check("get ada: user key returned (send_key)", ss.from_value(rec.key.user_key), "ada")
check("get ada: ttl about an hour", 3500 <= rec.meta.ttl <= 3600, True)
check("get ada: 20-byte digest", len(rec.key.digest), 20)
rec = ss.call(kv.Get, kv_pb2.GetRequest(key=ada, bins=["name", "age"]), retries=2).record
check("get ada, bins name and age", ss.bins_of(rec), {"name": "Ada", "age": 36})
rec = ss.call(kv.Get, kv_pb2.GetRequest(key=ada, header_only=True), retries=2).record
check("get ada, header only", (len(rec.bins), rec.meta.generation), (0, 1))
exists = ss.call(kv.Exists, kv_pb2.ExistsRequest(key=ss.key(ns, set_name, "nobody")), retries=2)
check("exists nobody: false", exists.exists, False)

# --- errors, by result code ----------------------------------------------------------------------
expect_error("get nobody", ss.NOT_FOUND, kv.Get, kv_pb2.GetRequest(key=ss.key(ns, set_name, "nobody")))
expect_error("create-only put of ada", ss.RECORD_EXISTS, kv.Put, kv_pb2.PutRequest(
    key=ada, bins=ss.bins({"age": 1}), policy=t.WritePolicy(exists=t.EXISTS_ACTION_CREATE_ONLY)))
e = expect_error("put ada expecting generation 7", ss.GENERATION, kv.Put, kv_pb2.PutRequest(
    key=ada, bins=ss.bins({"age": 1}),
    policy=t.WritePolicy(generation_policy=t.GENERATION_POLICY_EXPECT_EQUAL, generation=7)))
check("generation error: gRPC status FAILED_PRECONDITION", e.grpc_code, grpc.StatusCode.FAILED_PRECONDITION)
check("generation error: not in doubt", e.in_doubt, False)
e = expect_error("get in an unknown namespace", ss.NAMESPACE, kv.Get,
                 kv_pb2.GetRequest(key=ss.key("no-such-namespace", set_name, "ada")))
check("namespace error has a hint", bool(e.hint), True)
# Writing with the right generation succeeds (check-and-set).
res = ss.call(kv.Put, kv_pb2.PutRequest(key=ada, bins=ss.bins({"age": 37}), policy=t.WritePolicy(
    generation_policy=t.GENERATION_POLICY_EXPECT_EQUAL, generation=1, ttl=-2)))
check("check-and-set put of ada: generation 2", res.meta.generation, 2)

# --- operate (atomic, several operations on one record) -------------------------------------------
res = ss.call(kv.Operate, kv_pb2.OperateRequest(key=ada, operations=[
    kv_pb2.Operation(add=kv_pb2.AddOp(bin="age", value=ss.to_value(1))),
    kv_pb2.Operation(append=kv_pb2.AppendOp(bin="name", value=ss.to_value(" Lovelace"))),
    kv_pb2.Operation(list=kv_pb2.ListOp(bin="tags", kind=kv_pb2.LIST_OP_KIND_APPEND, value=ss.to_value("poetry"))),
    kv_pb2.Operation(map=kv_pb2.MapOp(bin="langs", kind=kv_pb2.MAP_OP_KIND_PUT, key=ss.to_value("fr"), value=ss.to_value(3))),
    kv_pb2.Operation(read=kv_pb2.ReadOp(bin="age")),
    kv_pb2.Operation(read=kv_pb2.ReadOp(bin="name")),
]))
out = ss.bins_of(res.bins)
check("operate: generation 3", res.meta.generation, 3)
check("operate: age read after add", out["age"], 38)
check("operate: name read after append", out["name"], "Ada Lovelace")
# List append and map put return the new size, as in Aerospike.
check("operate: list append returns the new size", out["tags"], 3)
check("operate: map put returns the new size", out["langs"], 2)
rec = ss.call(kv.Get, kv_pb2.GetRequest(key=ada, bins=["tags", "langs"])).record
check("operate: list and map written", ss.bins_of(rec), {"tags": ["math", "engines", "poetry"], "langs": {"en": 1, "fr": 3}})
expect_error("operate: add to a string bin", ss.BIN_TYPE, kv.Operate, kv_pb2.OperateRequest(key=ada, operations=[
    kv_pb2.Operation(add=kv_pb2.AddOp(bin="name", value=ss.to_value(1)))]))

# --- batch get --------------------------------------------------------------------------------
batch = ss.call(kv.BatchGet, kv_pb2.BatchGetRequest(
    keys=[ss.key(ns, set_name, k) for k in ("alan", "nobody", "grace")], bins=["name"]), retries=2)
check("batch get: per-key result codes", [r.result_code for r in batch.results], [ss.OK, ss.NOT_FOUND, ss.OK])
check("batch get: names", [ss.bins_of(r.record).get("name") for r in batch.results], ["Alan", None, "Grace"])

# --- streamed scan ----------------------------------------------------------------------------
# A scan streams records partition by partition; a deadline bounds the whole stream.
seen = {}
for msg in ss.stream(kv.Scan, kv_pb2.ScanRequest(namespace=ns, set=set_name, bins=["name", "age"]), timeout=10):
    seen[ss.from_value(msg.record.key.user_key)] = ss.bins_of(msg.record)
check("scan: every record of the set", sorted(seen), ["ada", "alan", "grace"])
check("scan: selected bins", seen["alan"], {"name": "Alan", "age": 41})
limited = list(ss.stream(kv.Scan, kv_pb2.ScanRequest(namespace=ns, set=set_name, no_bins=True, max_records=2), timeout=10))
check("scan: max_records 2, no bins", [len(m.record.bins) for m in limited], [0, 0])
# For large scans ask for many records per message: far less server CPU per record.
packed = list(ss.stream(kv.Scan, kv_pb2.ScanRequest(namespace=ns, set=set_name, records_per_message=100), timeout=10))
check("scan: packed, one message holds every record", [len(m.records) for m in packed], [3])

# --- query with a filter expression, and an aggregation ----------------------------------------
over_40 = json.dumps({"kind": "cmp", "op": ">", "left": {"kind": "bin", "name": "age"}, "right": {"kind": "lit", "value": 40}})
names = sorted(ss.bins_of(m.record)["name"] for m in ss.stream(
    query.Query, query_pb2.QueryRequest(namespace=ns, set=set_name, filter_json=over_40, bins=["name"]), timeout=10))
check("query age > 40", names, ["Alan", "Grace"])
agg = ss.call(query.Aggregate, query_pb2.AggregateRequest(
    query=query_pb2.QueryRequest(namespace=ns, set=set_name), function="SUM", bin="age"))
check("aggregate SUM(age)", (ss.from_value(agg.value), agg.matched), (38 + 41 + 85, 3))
agg = ss.call(query.Aggregate, query_pb2.AggregateRequest(
    query=query_pb2.QueryRequest(namespace=ns, set=set_name, filter_json=over_40), function="COUNT"))
check("aggregate COUNT where age > 40", ss.from_value(agg.value), 2)
expect_error("query with a bad filter", ss.PARAMETER, query.Aggregate, query_pb2.AggregateRequest(
    query=query_pb2.QueryRequest(namespace=ns, set=set_name, filter_json="{"), function="COUNT"))

# --- UDFs: register a module, call a record UDF, run a stream UDF (aggregation) ------------------
MODULE = """
export function bump(rec, bin, by) {
  rec[bin] = (rec[bin] ?? 0) + by;
  aerospike.update(rec);
  return rec[bin];
}
export function withdraw(rec, amount) {
  if ((rec.balance ?? 0) < amount) throw new Error('1003:insufficient funds');
  rec.balance -= amount;
  aerospike.update(rec);
  return rec.balance;
}
export function total(stream, bin) {
  return stream.map((rec) => rec[bin] ?? 0).reduce((a, b) => a + b);
}
"""
module_name = f"pyex{os.getpid()}"
reg = ss.call(udf.RegisterModule, udf_pb2.RegisterModuleRequest(file_name=f"{module_name}.js", source=MODULE), timeout=10)
check("register module: exported functions", list(reg.module.functions), ["bump", "total", "withdraw"])
res = ss.call(udf.ApplyRecordUdf, udf_pb2.ApplyRecordUdfRequest(
    key=ada, call=udf_pb2.UdfCall(module=module_name, function="bump", args=[ss.to_value("age"), ss.to_value(2)])), timeout=5)
check("record UDF bump(age, 2): returns 40, wrote the record", (ss.from_value(res.value), res.effect), (40, "write"))
wallet = ss.key(ns, set_name, "wallet")
ss.call(kv.Put, kv_pb2.PutRequest(key=wallet, bins=ss.bins({"balance": 10})))
expect_error("record UDF withdraw(50) throws '1003:'", 1003, udf.ApplyRecordUdf, udf_pb2.ApplyRecordUdfRequest(
    key=wallet, call=udf_pb2.UdfCall(module=module_name, function="withdraw", args=[ss.to_value(50)])))
finals = [ss.from_value(m.value) for m in ss.stream(udf.Aggregate, udf_pb2.UdfServiceAggregateRequest(
    target=udf_pb2.UdfTarget(namespace=ns, set=set_name, filter_json=over_40),
    call=udf_pb2.UdfCall(module=module_name, function="total", args=[ss.to_value("age")])), timeout=30)]
check("stream UDF total(age) where age > 40", finals, [41 + 85])
ss.call(udf.RemoveModule, udf_pb2.RemoveModuleRequest(name=module_name), timeout=10)

# --- AQL: statements run on the node, results come back as typed events ----------------------
events = list(ss.stream(aql.Execute, aql_pb2.ExecuteRequest(
    text=f"INSERT INTO {ns}.{set_name} (PK, name, age) VALUES ('lin', 'Lin', 50); "
         f"SELECT name, age FROM {ns}.{set_name} WHERE PK = 'lin'; "
         f"SELECT * FROM {ns}.{set_name} WHERE PK = 'nobody'"), timeout=10))
statuses = [e.status for e in events if e.WhichOneof("event") == "status"]
check("AQL: one status per statement, the last one NOT_FOUND", [s.code for s in statuses], [0, 0, ss.NOT_FOUND])
rows = [{c.name: ss.from_value(c.value) for c in e.row.cells} for e in events if e.WhichOneof("event") == "row"]
check("AQL: SELECT returns the row INSERT wrote", [(r["name"], r["age"]) for r in rows], [("Lin", 50)])

# --- delete -----------------------------------------------------------------------------------
ss.call(kv.Delete, kv_pb2.DeleteRequest(key=ss.key(ns, set_name, "grace")))
expect_error("get grace after delete", ss.NOT_FOUND, kv.Get, kv_pb2.GetRequest(key=ss.key(ns, set_name, "grace")))
expect_error("delete grace again", ss.NOT_FOUND, kv.Delete, kv_pb2.DeleteRequest(key=ss.key(ns, set_name, "grace")))

channel.close()
print(f"python example: {checks} checks passed")
