// Package cplog reads the phases of a control plane's start out of its log
// (controlplane.log): the structured lines `nest controlplane` writes with
// log/slog's text format, such as
//
//	time=2025-11-25T19:37:00.123Z level=INFO msg="Datastore is serving" virtualCluster=dev elapsed=312ms
//
// where elapsed counts from the start of controlplane.Run.
package cplog

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Messages of the phases, as pkg/controlplane logs them.
const (
	MsgDatastoreServing = "Datastore is serving"
	MsgAPIServerReady   = "Virtual apiserver is ready"
	// MsgControllersStarting is logged once the apiserver is fully ready.
	MsgControllersStarting = "Starting controllers"
)

// Find returns the last line with message msg and an elapsed attribute.
func Find(text, msg string) (Event, bool) {
	var found Event
	ok := false
	for _, line := range strings.Split(text, "\n") {
		if !strings.Contains(line, "elapsed=") || !strings.Contains(line, msg) {
			continue
		}
		kv := Fields(line)
		if kv["msg"] != msg {
			continue
		}
		if ev, err := event(kv); err == nil {
			found, ok = ev, true
		}
	}
	return found, ok
}

// Event is one phase line.
type Event struct {
	// At is the line's time stamp.
	At time.Time
	// Elapsed is the elapsed= attribute: time since Run started.
	Elapsed time.Duration
}

// RunStart is when controlplane.Run started: At minus Elapsed.
func (e Event) RunStart() time.Time { return e.At.Add(-e.Elapsed) }

// Phases of one control plane start.
type Phases struct {
	Datastore, APIServer Event
}

// Parse returns the last start's phases found in a control plane log.
func Parse(text string) (Phases, error) {
	var p Phases
	var haveDS, haveAPI bool
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024) // klog lines can be long
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, "msg=") || !strings.Contains(line, "elapsed=") {
			continue
		}
		kv := Fields(line)
		var target *Event
		switch kv["msg"] {
		case MsgDatastoreServing:
			target, haveDS = &p.Datastore, true
		case MsgAPIServerReady:
			target, haveAPI = &p.APIServer, true
		default:
			continue
		}
		ev, err := event(kv)
		if err != nil {
			return p, fmt.Errorf("%q: %w", line, err)
		}
		*target = ev
	}
	if err := sc.Err(); err != nil {
		return p, err
	}
	if !haveDS || !haveAPI {
		return p, fmt.Errorf("log has no %q and %q lines", MsgDatastoreServing, MsgAPIServerReady)
	}
	return p, nil
}

func event(kv map[string]string) (Event, error) {
	elapsed, err := time.ParseDuration(kv["elapsed"])
	if err != nil {
		return Event{}, fmt.Errorf("elapsed: %w", err)
	}
	at, err := time.Parse(time.RFC3339Nano, kv["time"])
	if err != nil {
		return Event{}, fmt.Errorf("time: %w", err)
	}
	return Event{At: at, Elapsed: elapsed}, nil
}

// Fields parses one logfmt line of slog's text handler: key=value pairs
// separated by spaces, values quoted (Go syntax) when they need to be.
func Fields(line string) map[string]string {
	out := map[string]string{}
	for len(line) > 0 {
		line = strings.TrimLeft(line, " ")
		eq := strings.IndexByte(line, '=')
		if eq <= 0 {
			break
		}
		key := line[:eq]
		if strings.ContainsAny(key, " \"") {
			// Not a key=value token (a plain-text log line): skip a word.
			_, line, _ = strings.Cut(line, " ")
			continue
		}
		line = line[eq+1:]
		if strings.HasPrefix(line, `"`) {
			end := closingQuote(line)
			if end < 0 {
				out[key] = line
				break
			}
			v, err := strconv.Unquote(line[:end+1])
			if err != nil {
				v = line[1:end]
			}
			out[key], line = v, line[end+1:]
			continue
		}
		v, rest, _ := strings.Cut(line, " ")
		out[key], line = v, rest
	}
	return out
}

// closingQuote returns the index of the quote closing s[0], or -1.
func closingQuote(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}
