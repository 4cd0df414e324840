// Command grpc_go is a stand-in for the reference Go node's wire: grpc-go over
// cleartext HTTP/2 only, with what a regular node calls on its seed:
// Block.GenesisSync, Block.BlockSync, Node.PeerDiscover, and the relay
// streams Tx.TxReceive and Block.BlockReceive.
//
//	grpc_go serve ADDR BLOCKSTORE   serve a bcn block store; on SIGTERM stop
//	                                gracefully (GracefulStop, which sends
//	                                GOAWAY) and print "stopped"
//	grpc_go sync ADDR [IDLE]        fetch the genesis and every block, print
//	                                them; with IDLE (a Go duration) wait that
//	                                long before closing the connection (which
//	                                sends GOAWAY)
//
// Messages are handled as raw protobuf (field 1, bytes), as the reference's
// GenesisSyncRes and BlockSyncRes are, so no generated code is needed.
package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protowire"
)

// rawCodec passes message bytes through untouched.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

func bytesField(b []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), b)
}

func readBytesField(msg []byte) []byte {
	if len(msg) == 0 {
		return nil
	}
	_, _, n := protowire.ConsumeTag(msg)
	b, _ := protowire.ConsumeBytes(msg[n:])
	return b
}

func serve(addr, dir string) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := grpc.NewServer(grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		method, _ := grpc.MethodFromServerStream(stream)
		var req []byte
		if err := stream.RecvMsg(&req); err != nil && err != io.EOF {
			return err
		}
		switch method {
		case "/Block/GenesisSync":
			g, err := os.ReadFile(filepath.Join(dir, "genesis.json"))
			if err != nil {
				return err
			}
			out := bytesField(g)
			return stream.SendMsg(&out)
		case "/Node/PeerDiscover":
			// Peers: just this node's own address, as the reference answers.
			out := bytesField([]byte(lis.Addr().String()))
			return stream.SendMsg(&out)
		case "/Block/BlockReceive", "/Tx/TxReceive":
			// A client stream: the first message was read above (none when
			// the stream was empty); count them all, answer an empty message.
			n := 0
			if len(req) > 0 {
				n = 1
			}
			for {
				var msg []byte
				if err := stream.RecvMsg(&msg); err != nil {
					break
				}
				n++
			}
			// A bcn sender names itself in bcn-origin; the reference ignores it.
			origin := ""
			if md, ok := metadata.FromIncomingContext(stream.Context()); ok {
				if v := md.Get("bcn-origin"); len(v) > 0 {
					origin = " from " + v[0]
				}
			}
			fmt.Printf("received %s %d%s\n", method, n, origin)
			out := []byte{}
			return stream.SendMsg(&out)
		case "/Block/BlockSync":
			from := uint64(0)
			if len(req) > 0 {
				_, _, n := protowire.ConsumeTag(req)
				from, _ = protowire.ConsumeVarint(req[n:])
			}
			f, err := os.Open(filepath.Join(dir, "block.store"))
			if err != nil {
				return nil
			}
			defer f.Close()
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 1<<26)
			for i := uint64(1); sc.Scan(); i++ {
				if i >= from {
					out := bytesField(sc.Bytes())
					if err := stream.SendMsg(&out); err != nil {
						return err
					}
				}
			}
			return nil
		}
		return fmt.Errorf("unknown method %s", method)
	}))
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	stopped := make(chan struct{})
	go func() {
		<-stop
		srv.GracefulStop()
		close(stopped)
	}()
	fmt.Println("listening", lis.Addr())
	if err := srv.Serve(lis); err != nil {
		return err
	}
	<-stopped
	fmt.Println("stopped")
	return nil
}

func sync(addr string, idle time.Duration) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	defer time.Sleep(idle)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, res := []byte{}, []byte{}
	if err := conn.Invoke(ctx, "/Block/GenesisSync", &req, &res); err != nil {
		return err
	}
	fmt.Printf("genesis %s\n", readBytesField(res))
	stream, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/Block/BlockSync")
	if err != nil {
		return err
	}
	from := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 1)
	if err := stream.SendMsg(&from); err != nil {
		return err
	}
	if err := stream.CloseSend(); err != nil {
		return err
	}
	for {
		var msg []byte
		if err := stream.RecvMsg(&msg); err != nil {
			if err.Error() == "EOF" {
				return nil
			}
			return err
		}
		fmt.Printf("block %s\n", readBytesField(msg))
	}
}

func main() {
	encoding.RegisterCodec(rawCodec{})
	var err error
	switch {
	case len(os.Args) == 4 && os.Args[1] == "serve":
		err = serve(os.Args[2], os.Args[3])
	case len(os.Args) == 3 && os.Args[1] == "sync":
		err = sync(os.Args[2], 0)
	case len(os.Args) == 4 && os.Args[1] == "sync":
		var idle time.Duration
		if idle, err = time.ParseDuration(os.Args[3]); err == nil {
			err = sync(os.Args[2], idle)
		}
	default:
		err = fmt.Errorf("usage: grpc_go serve ADDR BLOCKSTORE | grpc_go sync ADDR [IDLE]")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
