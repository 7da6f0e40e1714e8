// Slipstream from Go: grpc-go and code generated from proto/ with protoc-gen-go and
// protoc-gen-go-grpc (see generate.sh). Builds offline in GOPATH mode against Debian's Go
// sources (/usr/share/gocode):
//
//	./generate.sh
//	GO111MODULE=off GOPATH="$PWD/gopath:/usr/share/gocode" go run . -address 127.0.0.1:3000
//
// Every answer is checked; the program exits 1 at the first wrong one (test/interop/go.test.ts
// runs it against a real node).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "slipstream/v1"
)

// Trailing metadata of every failed call (docs/api.md).
const (
	resultCodeKey = "slipstream-result-code"
	resultNameKey = "slipstream-result-name"
	hintKey       = "slipstream-hint"
)

// Aerospike result codes used below.
const (
	codeOK           = 0
	codeNotFound     = 2
	codeGeneration   = 3
	codeRecordExists = 5
)

// DbError is a failed call with the server's result code (-1 when the server sent none).
type DbError struct {
	GRPC       codes.Code
	ResultCode int
	Name       string
	Hint       string
	Message    string
}

func (e *DbError) Error() string {
	return fmt.Sprintf("%s (%d): %s", e.Name, e.ResultCode, e.Message)
}

// asDbError reads the result code from the trailer captured with grpc.Trailer.
func asDbError(err error, trailer metadata.MD) *DbError {
	st, _ := status.FromError(err)
	e := &DbError{GRPC: st.Code(), ResultCode: -1, Name: st.Code().String(), Message: st.Message()}
	if v := trailer.Get(resultCodeKey); len(v) > 0 {
		if n, convErr := strconv.Atoi(v[0]); convErr == nil {
			e.ResultCode = n
		}
	}
	if v := trailer.Get(resultNameKey); len(v) > 0 {
		e.Name = v[0]
	}
	if v := trailer.Get(hintKey); len(v) > 0 {
		e.Hint = v[0]
	}
	return e
}

var checks int

func check(what string, got, want interface{}) {
	if !reflect.DeepEqual(got, want) {
		fmt.Fprintf(os.Stderr, "FAIL %s: got %#v, want %#v\n", what, got, want)
		os.Exit(1)
	}
	checks++
	fmt.Printf("ok   %s\n", what)
}

func must(what string, err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL %s: %v\n", what, err)
		os.Exit(1)
	}
}

func str(s string) *pb.Value    { return &pb.Value{Kind: &pb.Value_String_{String_: s}} }
func integer(i int64) *pb.Value { return &pb.Value{Kind: &pb.Value_Int{Int: i}} }

// plain turns a Value into a Go value (int64, float64, string, []interface{}, …).
func plain(v *pb.Value) interface{} {
	switch k := v.GetKind().(type) {
	case *pb.Value_Int:
		return k.Int
	case *pb.Value_Double:
		return k.Double
	case *pb.Value_String_:
		return k.String_
	case *pb.Value_Bool:
		return k.Bool
	case *pb.Value_Bytes:
		return k.Bytes
	case *pb.Value_List:
		out := []interface{}{}
		for _, x := range k.List.GetItems() {
			out = append(out, plain(x))
		}
		return out
	default:
		return nil
	}
}

func binsOf(bins []*pb.Bin) map[string]interface{} {
	out := map[string]interface{}{}
	for _, b := range bins {
		out[b.GetName()] = plain(b.GetValue())
	}
	return out
}

func main() {
	address := flag.String("address", "127.0.0.1:3000", "a node, host:port")
	namespace := flag.String("namespace", "test", "namespace")
	set := flag.String("set", fmt.Sprintf("go%d", os.Getpid()), "set the example writes to")
	flag.Parse()
	ns := *namespace

	dialCtx, cancelDial := context.WithTimeout(context.Background(), 10*time.Second)
	conn, err := grpc.DialContext(dialCtx, *address, grpc.WithInsecure(), grpc.WithBlock())
	cancelDial()
	must("connect", err)
	defer conn.Close()
	kv := pb.NewKeyValueServiceClient(conn)
	query := pb.NewQueryServiceClient(conn)

	// Every call gets a deadline of its own.
	var cancels []context.CancelFunc
	defer func() {
		for _, cancel := range cancels {
			cancel()
		}
	}()
	ctx := func() context.Context {
		c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		cancels = append(cancels, cancel)
		return c
	}
	key := func(k string) *pb.Key {
		return &pb.Key{Namespace: ns, Set: *set, Id: &pb.Key_StringKey{StringKey: k}}
	}

	// Standard gRPC health checking works with any gRPC client.
	health, err := healthpb.NewHealthClient(conn).Check(ctx(), &healthpb.HealthCheckRequest{Service: "slipstream.v1.KeyValueService"})
	must("health check", err)
	check("health: KeyValueService SERVING", health.GetStatus(), healthpb.HealthCheckResponse_SERVING)

	// Put three records.
	for i, name := range []string{"ada", "alan", "grace"} {
		res, err := kv.Put(ctx(), &pb.PutRequest{
			Key:    key(name),
			Bins:   []*pb.Bin{{Name: "name", Value: str(name)}, {Name: "visits", Value: integer(int64(10 * (i + 1)))}},
			Policy: &pb.WritePolicy{SendKey: true},
		})
		must("put "+name, err)
		check("put "+name+": generation 1", res.GetMeta().GetGeneration(), uint32(1))
	}

	// Get with a bin selection.
	got, err := kv.Get(ctx(), &pb.GetRequest{Key: key("alan"), Bins: []string{"visits"}})
	must("get alan", err)
	check("get alan: bin visits", binsOf(got.GetRecord().GetBins()), map[string]interface{}{"visits": int64(20)})

	// Errors carry the Aerospike result code in the trailing metadata.
	var trailer metadata.MD
	_, err = kv.Get(ctx(), &pb.GetRequest{Key: key("nobody")}, grpc.Trailer(&trailer))
	dbErr := asDbError(err, trailer)
	check("get nobody: result code NOT_FOUND", []interface{}{dbErr.GRPC, dbErr.ResultCode, dbErr.Name},
		[]interface{}{codes.NotFound, codeNotFound, "AEROSPIKE_ERR_RECORD_NOT_FOUND"})
	_, err = kv.Put(ctx(), &pb.PutRequest{Key: key("ada"), Bins: []*pb.Bin{{Name: "x", Value: integer(1)}},
		Policy: &pb.WritePolicy{Exists: pb.ExistsAction_EXISTS_ACTION_CREATE_ONLY}}, grpc.Trailer(&trailer))
	check("create-only put of ada: RECORD_EXISTS", asDbError(err, trailer).ResultCode, codeRecordExists)
	_, err = kv.Put(ctx(), &pb.PutRequest{Key: key("ada"), Bins: []*pb.Bin{{Name: "x", Value: integer(1)}},
		Policy: &pb.WritePolicy{GenerationPolicy: pb.GenerationPolicy_GENERATION_POLICY_EXPECT_EQUAL, Generation: 9}}, grpc.Trailer(&trailer))
	check("put ada expecting generation 9: GENERATION", asDbError(err, trailer).ResultCode, codeGeneration)

	// Operate: add and read atomically.
	op, err := kv.Operate(ctx(), &pb.OperateRequest{Key: key("ada"), Operations: []*pb.Operation{
		{Op: &pb.Operation_Add{Add: &pb.AddOp{Bin: "visits", Value: integer(5)}}},
		{Op: &pb.Operation_Read{Read: &pb.ReadOp{Bin: "visits"}}},
	}})
	must("operate ada", err)
	check("operate ada: visits after add", binsOf(op.GetBins()), map[string]interface{}{"visits": int64(15)})
	check("operate ada: generation 2", op.GetMeta().GetGeneration(), uint32(2))

	// Batch get: one result code per key.
	batch, err := kv.BatchGet(ctx(), &pb.BatchGetRequest{Keys: []*pb.Key{key("ada"), key("nobody"), key("grace")}})
	must("batch get", err)
	codesSeen := []int32{}
	for _, r := range batch.GetResults() {
		codesSeen = append(codesSeen, r.GetResultCode())
	}
	check("batch get: result codes", codesSeen, []int32{codeOK, codeNotFound, codeOK})

	// Streamed scan of the set.
	scanCtx, cancelScan := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelScan()
	scan, err := kv.Scan(scanCtx, &pb.ScanRequest{Namespace: ns, Set: set})
	must("scan", err)
	names := []string{}
	for {
		msg, err := scan.Recv()
		if err == io.EOF {
			break
		}
		must("scan recv", err)
		names = append(names, plain(msg.GetRecord().GetKey().GetUserKey()).(string))
	}
	sort.Strings(names)
	check("scan: user keys", names, []string{"ada", "alan", "grace"})

	// Aggregate over a query.
	agg, err := query.Aggregate(ctx(), &pb.AggregateRequest{Query: &pb.QueryRequest{Namespace: ns, Set: set}, Function: "SUM", Bin: "visits"})
	must("aggregate", err)
	check("aggregate SUM(visits)", plain(agg.GetValue()), int64(15+20+30))

	_, err = kv.Delete(ctx(), &pb.DeleteRequest{Key: key("grace")})
	must("delete grace", err)
	ex, err := kv.Exists(ctx(), &pb.ExistsRequest{Key: key("grace")})
	must("exists grace", err)
	check("exists grace after delete", ex.GetExists(), false)

	fmt.Printf("go example: %d checks passed\n", checks)
}
