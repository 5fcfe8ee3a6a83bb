package ui

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// updating: go test ./ui -update rewrites the golden screens (the flag is
// registered by teatest's golden package).
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// flow drives the real Model synchronously: each message's commands run
// at once, their messages fed back, except timers (spinner, cursor blink)
// which are dropped so screens are the same on every run.
type flow struct {
	t    *testing.T
	m    *Model
	be   *fakeBackend
	w, h int
	quit bool
}

func newFlow(t *testing.T, w, h int, opt Options) *flow {
	t.Helper()
	be := newFakeBackend()
	if opt.Backend == nil {
		opt.Backend = be
	}
	if opt.ClusterPath == "" {
		opt.ClusterPath = "testdata/lab/out/aginstall.yaml"
	}
	f := &flow{t: t, m: newModel(opt), be: be, w: w, h: h}
	f.run(f.m.Init())
	f.send(tea.WindowSizeMsg{Width: w, Height: h})
	return f
}

func (f *flow) send(msg tea.Msg) {
	_, cmd := f.m.Update(msg)
	f.run(cmd)
}

// run executes cmd and feeds back what it returns. A command that does not
// answer within a moment is a timer and is dropped.
func (f *flow) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	// The cursor's blink is a timer: skip it without waiting.
	if name := runtime.FuncForPC(reflect.ValueOf(cmd).Pointer()).Name(); strings.Contains(name, "cursor.(*Model).Blink") {
		return
	}
	ch := make(chan tea.Msg, 1)
	go func() { ch <- cmd() }()
	var msg tea.Msg
	select {
	case msg = <-ch:
	case <-time.After(150 * time.Millisecond):
		return
	}
	switch msg := msg.(type) {
	case nil, spinner.TickMsg:
		return
	case tea.BatchMsg:
		for _, c := range msg {
			f.run(c)
		}
		return
	case tea.QuitMsg:
		f.quit = true
		return
	}
	// tea.Sequence's message is an unexported []tea.Cmd.
	if v := reflect.ValueOf(msg); v.Kind() == reflect.Slice && v.Type().Elem() == reflect.TypeOf(tea.Cmd(nil)) {
		for i := 0; i < v.Len(); i++ {
			f.run(v.Index(i).Interface().(tea.Cmd))
		}
		return
	}
	f.send(msg)
}

// key presses keys by name: "enter", "esc", "tab", "up", "space", "ctrl+c" or a letter.
func (f *flow) key(names ...string) *flow {
	for _, n := range names {
		f.send(keyMsg(n))
	}
	return f
}

// typeText types literal text.
func (f *flow) typeText(s string) *flow {
	for _, r := range s {
		f.send(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	return f
}

func keyMsg(n string) tea.KeyPressMsg {
	switch n {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "left":
		return tea.KeyPressMsg{Code: tea.KeyLeft}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	}
	r := []rune(n)[0]
	return tea.KeyPressMsg{Code: r, Text: n}
}

// screen is the plain text of the current frame.
func (f *flow) screen() string {
	lines := strings.Split(ansi.Strip(f.m.View().Content), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n") + "\n"
}

// title is the current screen's title.
func (f *flow) title() string { return f.m.screen.title() }

// wantScreen fails unless the current screen is called title.
func (f *flow) wantScreen(title string) *flow {
	f.t.Helper()
	if got := f.title(); got != title {
		f.t.Fatalf("screen = %q, want %q; frame:\n%s", got, title, f.screen())
	}
	return f
}

// wantText fails unless the frame shows s.
func (f *flow) wantText(s string) *flow {
	f.t.Helper()
	if !strings.Contains(f.screen(), s) {
		f.t.Fatalf("frame lacks %q:\n%s", s, f.screen())
	}
	return f
}

// golden compares the frame with testdata/screens/<name>-<w>x<h>.txt.
func (f *flow) golden(name string) *flow {
	f.t.Helper()
	got := f.screen()
	if n := strings.Count(got, "\n"); n != f.h {
		f.t.Errorf("%s: frame has %d lines, want %d", name, n, f.h)
	}
	for i, l := range strings.Split(got, "\n") {
		if w := ansi.StringWidth(l); w > f.w {
			f.t.Errorf("%s: line %d is %d wide, more than %d: %q", name, i+1, w, f.w, l)
		}
	}
	path := filepath.Join("..", "testdata", "screens", name+"-"+itoa(f.w)+"x"+itoa(f.h)+".txt")
	if updating() {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			f.t.Fatal(err)
		}
		return f
	}
	want, err := os.ReadFile(path)
	if err != nil {
		f.t.Fatalf("%s: %v (run go test ./ui -update)", name, err)
	}
	if string(want) != got {
		f.t.Errorf("%s differs from %s:\n--- got\n%s--- want\n%s", name, path, got, want)
	}
	return f
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
