package clone

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// tmpDirName is the directory inside the workspace root where clones are
// written before they are renamed into place. Repo names that would collide
// with it are refused.
const tmpDirName = ".aifactory-tmp"

// Workspace is the workspace root, resolved through symlinks.
type Workspace struct {
	Root string
}

// OpenWorkspace creates the root if needed and resolves it.
func OpenWorkspace(root string) (*Workspace, error) {
	if root == "" {
		return nil, errors.New("no workspace root is configured; set PROJECT_WORKSPACE_ROOT")
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("create workspace root: %w", err)
	}
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, fmt.Errorf("resolve workspace root: %w", err)
	}
	real, err = filepath.Abs(real)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(real, tmpDirName), 0o700); err != nil {
		return nil, fmt.Errorf("create temporary area: %w", err)
	}
	return &Workspace{Root: real}, nil
}

func (w *Workspace) tmpArea() string         { return filepath.Join(w.Root, tmpDirName) }
func (w *Workspace) tmpDir(id string) string { return filepath.Join(w.tmpArea(), id) }
func lockPath(tmpDir string) string          { return tmpDir + ".lock" }
func (w *Workspace) candidate(name string, i int) string {
	if i > 1 {
		name += "-" + strconv.Itoa(i)
	}
	return filepath.Join(w.Root, name)
}

// Contains reports whether path, resolved through symlinks as far as it
// exists, lies strictly inside the root.
func (w *Workspace) Contains(path string) bool {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		real = filepath.Clean(path)
	}
	rel, err := filepath.Rel(w.Root, real)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return false
	}
	return !strings.HasPrefix(rel, tmpDirName)
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil || !errors.Is(err, os.ErrNotExist)
}
