package p2p

import (
	"context"
	"testing"
	"time"
)

func TestDeadline(t *testing.T) {
	parent, cancelParent := context.WithCancel(context.Background())
	defer cancelParent()

	d := newDeadline(parent)
	d.arm(time.Hour)
	if !d.disarm() {
		t.Fatal("disarm of a bound that did not run out reported it fired")
	}
	if d.ctx.Err() != nil || d.expired.Load() {
		t.Fatal("context done without the bound running out")
	}
	d.arm(0)
	<-d.ctx.Done()
	if !d.expired.Load() {
		t.Fatal("context done but not marked expired")
	}
	if d.disarm() {
		t.Fatal("disarm after the bound ran out reported it live")
	}
	d.release()

	d = newDeadline(parent)
	cancelParent()
	<-d.ctx.Done()
	if d.expired.Load() {
		t.Fatal("a cancelled parent marked the deadline expired")
	}
	d.release()
}
