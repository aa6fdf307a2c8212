package main

import (
	"encoding/json"
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams carries a command's input and output: data on Out, chatter and
// errors on ErrOut.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	inFd, outFd, errFd int
}

func systemIO() *IOStreams {
	return &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		inFd: int(os.Stdin.Fd()), outFd: int(os.Stdout.Fd()), errFd: int(os.Stderr.Fd())}
}

// testIO returns streams that are never terminals.
func testIO(in io.Reader, out, errOut io.Writer) *IOStreams {
	return &IOStreams{In: in, Out: out, ErrOut: errOut, inFd: -1, outFd: -1, errFd: -1}
}

func (s *IOStreams) StdinIsTerminal() bool  { return s.inFd >= 0 && term.IsTerminal(s.inFd) }
func (s *IOStreams) StderrIsTerminal() bool { return s.errFd >= 0 && term.IsTerminal(s.errFd) }

// readPassword reads a line from the terminal without echo.
func (s *IOStreams) readPassword() ([]byte, error) { return term.ReadPassword(s.inFd) }

// writeJSON is the one --json encoder of every list command.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
