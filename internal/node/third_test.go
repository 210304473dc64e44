package node

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/naivechain/naivechain/internal/api"
	"github.com/naivechain/naivechain/internal/consensus"
)

// soloEngine is an engine the node has never heard of: only
// consensus.Engine, none of the optional abilities. It refuses writes.
type soloEngine struct{ self consensus.Member }

func (e *soloEngine) Name() string                        { return "solo" }
func (e *soloEngine) Tick()                               {}
func (e *soloEngine) Step(string, []byte) error           { return consensus.ErrMalformed }
func (e *soloEngine) Propose(string) (uint64, error)      { return 0, consensus.ErrNotMember }
func (e *soloEngine) ProposeAll([]string) (uint64, error) { return 0, consensus.ErrNotMember }
func (e *soloEngine) Abandon(uint64) bool                 { return false }
func (e *soloEngine) Ready() consensus.Ready              { return consensus.Ready{} }
func (e *soloEngine) Durable(uint64, error)               {}
func (e *soloEngine) Status() consensus.Status            { return consensus.Status{Role: "alone"} }
func (e *soloEngine) Members() []consensus.Member         { return []consensus.Member{e.self} }
func (e *soloEngine) Greet([]string)                      {}

// TestThirdEngine: an engine plugs into the node through Config.Engine
// alone, and every ability it lacks gets the node's default answer.
func TestThirdEngine(t *testing.T) {
	var env consensus.Env
	n := start(t, Config{Engine: func(e consensus.Env) (consensus.Engine, error) {
		env = e
		return &soloEngine{self: e.Self}, nil
	}})
	if env.Self.ID != n.ID() || env.Chain == nil || env.Store == nil || !env.Bootstrap || env.Now == nil {
		t.Fatalf("the factory got %+v", env)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := n.Status(ctx)
	if err != nil || st.Engine != "solo" || st.Role != "alone" || st.PoW != nil {
		t.Fatalf("status %+v, %v", st, err)
	}
	if err := n.Readiness(ctx); err == nil || !strings.Contains(err.Error(), "not a member: alone") {
		t.Fatalf("readiness %v", err)
	}
	if _, err := n.Submit(ctx, []string{`"x"`}); !errors.Is(err, api.ErrUnsupported) {
		t.Fatalf("submit %v", err)
	}
	if err := n.ReadBarrier(ctx); !errors.Is(err, api.ErrNoConsistentRead) {
		t.Fatalf("read barrier %v", err)
	}
	if _, err := n.Propose(ctx, `"x"`); !errors.Is(err, consensus.ErrNotMember) {
		t.Fatalf("propose %v", err)
	}
	if n.JoinToken() != "" {
		t.Fatal("a founder token for an engine that never asked for one")
	}
	if _, err := n.metrics.reg.Gather(); err != nil {
		t.Fatalf("metrics: %v", err)
	}
}

// TestFactoryError: a factory's error is New's, and New leaves nothing
// bound or running.
func TestFactoryError(t *testing.T) {
	boom := errors.New("boom")
	_, err := New(Config{Host: "127.0.0.1", HTTPPort: 0, Engine: func(consensus.Env) (consensus.Engine, error) { return nil, boom }})
	if !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
}
