// Package procfs reads the few /proc files the benchmarks need: memory of the
// machine and of processes, the CPU model, and process sessions. Parsing is
// by hand; each parser also takes the file's text so tests need no /proc.
package procfs

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Root is where proc is mounted.
var Root = "/proc"

// MemInfo holds the /proc/meminfo fields the benchmarks use, in bytes.
type MemInfo struct {
	Total, Available int64
}

// ReadMemInfo reads /proc/meminfo.
func ReadMemInfo() (MemInfo, error) {
	data, err := os.ReadFile(filepath.Join(Root, "meminfo"))
	if err != nil {
		return MemInfo{}, err
	}
	return ParseMemInfo(string(data))
}

// ParseMemInfo parses the text of /proc/meminfo.
func ParseMemInfo(text string) (MemInfo, error) {
	kv := kibLines(text)
	m := MemInfo{Total: kv["MemTotal"], Available: kv["MemAvailable"]}
	if m.Total == 0 {
		return m, fmt.Errorf("meminfo has no MemTotal")
	}
	return m, nil
}

// ProcMem is the memory of one process (or a sum of processes), in bytes,
// from /proc/PID/smaps_rollup.
type ProcMem struct {
	// RSS counts every resident page the process maps, shared or not.
	RSS int64
	// PSS divides each shared page among the processes that map it.
	PSS int64
	// Anon is the anonymous (heap, stacks) resident memory: what the
	// process itself allocated, never shared with another binary.
	Anon int64
}

// Add returns m+o.
func (m ProcMem) Add(o ProcMem) ProcMem {
	return ProcMem{RSS: m.RSS + o.RSS, PSS: m.PSS + o.PSS, Anon: m.Anon + o.Anon}
}

// ReadProcMem reads /proc/PID/smaps_rollup.
func ReadProcMem(pid int) (ProcMem, error) {
	data, err := os.ReadFile(filepath.Join(Root, strconv.Itoa(pid), "smaps_rollup"))
	if err != nil {
		return ProcMem{}, err
	}
	return ParseSmapsRollup(string(data))
}

// ParseSmapsRollup parses the text of /proc/PID/smaps_rollup.
func ParseSmapsRollup(text string) (ProcMem, error) {
	kv := kibLines(text)
	rss, ok := kv["Rss"]
	if !ok {
		return ProcMem{}, fmt.Errorf("smaps_rollup has no Rss line")
	}
	return ProcMem{RSS: rss, PSS: kv["Pss"], Anon: kv["Anonymous"]}, nil
}

// ReadTreeMem sums the memory of pid and of every other process in its
// session. Nest starts each component and control plane as a session leader,
// so this counts any child it runs too.
func ReadTreeMem(pid int) (ProcMem, error) {
	total, err := ReadProcMem(pid)
	if err != nil {
		return ProcMem{}, err
	}
	members, err := SessionPIDs(pid)
	if err != nil {
		return total, nil //nolint:nilerr // the leader alone is still a measurement
	}
	for _, p := range members {
		if p == pid {
			continue
		}
		if m, err := ReadProcMem(p); err == nil {
			total = total.Add(m)
		}
	}
	return total, nil
}

// SessionPIDs lists the live processes whose session id is sid.
func SessionPIDs(sid int) ([]int, error) {
	entries, err := os.ReadDir(Root)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(Root, e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		if s, err := ParseStatSession(string(data)); err == nil && s == sid {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// clockTicks is USER_HZ, the unit of CPU times in /proc/PID/stat; it is
// 100 on every Linux this runs on.
const clockTicks = 100

// ReadCPUSeconds returns the CPU time (user + system) a process has used.
func ReadCPUSeconds(pid int) (float64, error) {
	data, err := os.ReadFile(filepath.Join(Root, strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	return ParseStatCPUSeconds(string(data))
}

// ParseStatCPUSeconds returns utime+stime (fields 14 and 15) of a
// /proc/PID/stat line in seconds.
func ParseStatCPUSeconds(line string) (float64, error) {
	f, err := statFieldsAfterComm(line)
	if err != nil || len(f) < 13 {
		return 0, fmt.Errorf("malformed stat line")
	}
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed stat line: utime %q, stime %q", f[11], f[12])
	}
	return (utime + stime) / clockTicks, nil
}

// statFieldsAfterComm splits a /proc/PID/stat line after the command name
// (field 2), which may hold spaces and parentheses: the fields are counted
// from the last ')', starting with the state (field 3).
func statFieldsAfterComm(line string) ([]string, error) {
	i := strings.LastIndexByte(line, ')')
	if i < 0 {
		return nil, fmt.Errorf("malformed stat line")
	}
	return strings.Fields(line[i+1:]), nil
}

// ParseStatSession returns the session id (field 6) of a /proc/PID/stat
// line. The command name (field 2) may hold spaces and parentheses, so the
// fields are counted from the last ')'.
func ParseStatSession(line string) (int, error) {
	// After ")": state ppid pgrp session ...
	f, err := statFieldsAfterComm(line)
	if err != nil || len(f) < 4 {
		return 0, fmt.Errorf("malformed stat line")
	}
	return strconv.Atoi(f[3])
}

// CPU describes the processor of the machine.
type CPU struct {
	Model string
	// Threads is the number of logical processors.
	Threads int
}

// ReadCPU reads /proc/cpuinfo.
func ReadCPU() (CPU, error) {
	data, err := os.ReadFile(filepath.Join(Root, "cpuinfo"))
	if err != nil {
		return CPU{}, err
	}
	return ParseCPUInfo(string(data)), nil
}

// ParseCPUInfo parses the text of /proc/cpuinfo.
func ParseCPUInfo(text string) CPU {
	var c CPU
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(key) {
		case "processor":
			c.Threads++
		case "model name":
			if c.Model == "" {
				c.Model = strings.TrimSpace(val)
			}
		}
	}
	return c
}

// LoadAvg returns the first three fields of /proc/loadavg ("0.52 0.61 0.70").
func LoadAvg() string {
	data, err := os.ReadFile(filepath.Join(Root, "loadavg"))
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// kibLines parses "Key:   123 kB" lines into bytes (values without a unit
// are taken as they are).
func kibLines(text string) map[string]int64 {
	out := map[string]int64{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		if len(f) > 1 && f[1] == "kB" {
			v *= 1024
		}
		out[strings.TrimSpace(key)] = v
	}
	return out
}
