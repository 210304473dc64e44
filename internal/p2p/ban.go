package p2p

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/naivechain/naivechain/internal/wire"
)

// Ban scores. A peer that sends what it must not earns points. Points
// decay, so that the rare slip of an honest peer never adds up to a ban,
// while a peer that keeps misbehaving reaches BanThreshold and is banned.
const (
	// BanThreshold is the score at which a peer is banned. A penalty of
	// BanThreshold bans at once.
	BanThreshold = 100
	// scoreHalfLife is how long a score takes to halve.
	scoreHalfLife = time.Minute
	// maxStandings bounds the peers the ban table remembers; beyond it
	// the oldest are forgotten.
	maxStandings = 1024
)

// ErrBanned is returned by Connect for a peer we banned.
var ErrBanned = errors.New("p2p: peer is banned")

// Ban is a peer whose handshakes are refused until Until.
type Ban struct {
	ID     string
	Until  time.Time
	Reason string
}

// standing is what the ban table knows of one peer.
type standing struct {
	score  float64   // as of at
	at     time.Time // of the last penalty
	until  time.Time // end of the ban; zero or past when not banned
	reason string    // what earned the ban
}

func (s *standing) banned(now time.Time) bool { return now.Before(s.until) }

// banTable holds the ban scores and bans of peers, by id, at most max of
// them. It is not safe for concurrent use: the Host guards it with its
// mutex. Times come from the caller, so tests drive them.
type banTable struct {
	duration time.Duration
	max      int
	recs     map[string]*standing
}

func newBanTable(duration time.Duration, max int) *banTable {
	return &banTable{duration: duration, max: max, recs: make(map[string]*standing)}
}

// decayed is a score recorded at at, as of now: halved every scoreHalfLife.
func decayed(score float64, at, now time.Time) float64 {
	d := now.Sub(at)
	if d <= 0 {
		return score
	}
	return score * math.Exp2(-float64(d)/float64(scoreHalfLife))
}

// penalize adds score to the score of id and bans id for the table's
// duration when the total reaches BanThreshold. The ban takes the place of
// the score, which starts again from zero once the ban ends. A penalty for
// a peer already banned leaves the ban as it is: it is for messages that
// were on their way. penalize returns the score after the penalty (0 once
// banned), the ban if id is banned (a zero Until if not), and whether this
// penalty banned it.
func (t *banTable) penalize(id string, score int, reason string, now time.Time) (total float64, b Ban, fresh bool) {
	s, ok := t.recs[id]
	if !ok {
		t.makeRoom(now)
		s = &standing{}
		t.recs[id] = s
	}
	if s.banned(now) {
		return 0, Ban{ID: id, Until: s.until, Reason: s.reason}, false
	}
	s.score = decayed(s.score, s.at, now) + float64(max(score, 0))
	s.at = now
	if s.score < BanThreshold {
		return s.score, Ban{}, false
	}
	s.score = 0
	s.until = now.Add(t.duration)
	s.reason = reason
	return 0, Ban{ID: id, Until: s.until, Reason: reason}, true
}

// makeRoom forgets peers until a new one fits: first those neither banned
// nor holding a score of a point or more, then the least recently
// penalised.
func (t *banTable) makeRoom(now time.Time) {
	if len(t.recs) < t.max {
		return
	}
	for id, s := range t.recs {
		if !s.banned(now) && decayed(s.score, s.at, now) < 1 {
			delete(t.recs, id)
		}
	}
	for len(t.recs) >= t.max {
		var oldest string
		for id, s := range t.recs {
			if oldest == "" || s.at.Before(t.recs[oldest].at) {
				oldest = id
			}
		}
		delete(t.recs, oldest)
	}
}

// ban returns the ban of id, if id is banned at now.
func (t *banTable) ban(id string, now time.Time) (Ban, bool) {
	s, ok := t.recs[id]
	if !ok || !s.banned(now) {
		return Ban{}, false
	}
	return Ban{ID: id, Until: s.until, Reason: s.reason}, true
}

// bans returns the bans in force at now, sorted by id.
func (t *banTable) bans(now time.Time) []Ban {
	var out []Ban
	for id, s := range t.recs {
		if s.banned(now) {
			out = append(out, Ban{ID: id, Until: s.until, Reason: s.reason})
		}
	}
	slices.SortFunc(out, func(a, b Ban) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// banReason is the Reject text for a banned peer.
func banReason(b Ban) string {
	return "banned until " + b.Until.UTC().Format(time.RFC3339) + ": " + b.Reason
}

// Penalize adds score to the ban score of peer id for sending something it
// must not (reason says what), and closes the connection with it, telling
// the peer why with a Reject. Scores add up and halve every minute. When
// the score reaches BanThreshold, the peer is banned for BanDuration: it is
// disconnected, not redialed, and every handshake with it, in either
// direction, is refused until the ban ends. Below the threshold the peer is
// only disconnected and redialed like any peer that disconnected.
// Penalize reports whether the peer is banned.
func (h *Host) Penalize(id string, score int, reason string) (banned bool) {
	if id == h.cfg.Self.ID {
		return false
	}
	if len(reason) > wire.MaxReasonLen {
		reason = reason[:wire.MaxReasonLen]
	}
	now := h.cfg.Now()
	h.mu.Lock()
	total, ban, fresh := h.bans.penalize(id, score, reason, now)
	c := h.conns[id]
	h.mu.Unlock()
	banned = !ban.Until.IsZero()
	tell := reason
	switch {
	case fresh:
		h.log.Warn("peer banned", "id", id, "until", ban.Until.UTC().Format(time.RFC3339), "reason", reason)
		tell = banReason(ban)
		h.noteBan(c, id, now)
	case banned:
		tell = banReason(ban)
	default:
		h.log.Info("peer penalised", "id", id, "score", math.Round(total), "reason", reason)
	}
	if c != nil {
		c.stopAndTell(closeProtocol, tell, true)
	}
	return banned
}

// Bans returns the bans in force, sorted by peer id.
func (h *Host) Bans() []Ban {
	now := h.cfg.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.bans.bans(now)
}

// refusal returns the Reject text for a handshake with peer id while it
// is banned, or "" when it is not.
func (h *Host) refusal(id string) string {
	now := h.cfg.Now()
	h.mu.Lock()
	b, banned := h.bans.ban(id, now)
	h.mu.Unlock()
	if !banned {
		return ""
	}
	return banReason(b)
}

// bannedError is the error Connect returns for a banned peer.
func bannedError(addr, id, why string) error {
	return fmt.Errorf("%w: %s at %s: %s", ErrBanned, id, addr, why)
}
