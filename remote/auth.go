package remote

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// keyring loads identity files once per pool. Encrypted keys are decrypted
// only when a server accepts their public key, so the operator is asked for a
// passphrase only for a key that is actually needed, and only once.
type keyring struct {
	passphrase func(string) ([]byte, error)
	mu         sync.Mutex
	keys       map[string]*keyFile

	agentOnce sync.Once
	agent     agent.ExtendedAgent
	agentErr  error
}

type keyFile struct {
	path string
	pub  ssh.PublicKey
	err  error // the file could not be used at all

	signer ssh.Signer // set at load for an unencrypted key, never changed

	mu     sync.Mutex // serialises the passphrase prompt; guards dec, encErr
	dec    ssh.Signer // the decrypted key
	encErr error      // decrypting failed; not asked again
}

// defaultIdentities are the files OpenSSH tries when no IdentityFile is set.
func defaultIdentities() []string {
	d := filepath.Join(homeDir(), ".ssh")
	return []string{filepath.Join(d, "id_ed25519"), filepath.Join(d, "id_ecdsa"), filepath.Join(d, "id_rsa")}
}

func (kr *keyring) load(path string) *keyFile {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	if k, ok := kr.keys[path]; ok {
		return k
	}
	k := &keyFile{path: path}
	kr.keys[path] = k
	data, err := os.ReadFile(path)
	if err != nil {
		k.err = err
		return k
	}
	s, err := ssh.ParsePrivateKey(data)
	var pm *ssh.PassphraseMissingError
	switch {
	case err == nil:
		k.signer, k.pub = s, s.PublicKey()
	case errors.As(err, &pm):
		k.pub = pm.PublicKey
		if k.pub == nil { // old PEM format: the public half is only in the .pub file
			if b, err := os.ReadFile(path + ".pub"); err == nil {
				k.pub, _, _, _, _ = ssh.ParseAuthorizedKey(b)
			}
		}
		if k.pub == nil {
			k.err = fmt.Errorf("%s is encrypted and has no %s.pub beside it", path, path)
		}
	default:
		k.err = fmt.Errorf("%s: %w", path, err)
	}
	return k
}

// decrypt asks for the passphrase (up to 3 times, like ssh) and caches the
// outcome. pause/resume stop the connect timeout while the operator types.
func (kr *keyring) decrypt(k *keyFile, pause, resume func()) (ssh.Signer, error) {
	// Paused before waiting for the lock: another connection may be the
	// one prompting right now.
	pause()
	defer resume()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.dec != nil || k.encErr != nil {
		return k.dec, k.encErr
	}
	if kr.passphrase == nil {
		k.encErr = fmt.Errorf("%s is encrypted and no passphrase prompt is available; add it to ssh-agent (ssh-add %s)", k.path, k.path)
		return nil, k.encErr
	}
	data, err := os.ReadFile(k.path)
	if err != nil {
		k.encErr = err
		return nil, err
	}
	for range 3 {
		pw, err := kr.passphrase(k.path)
		if err != nil {
			k.encErr = fmt.Errorf("passphrase for %s: %w", k.path, err)
			return nil, k.encErr
		}
		s, err := ssh.ParsePrivateKeyWithPassphrase(data, pw)
		clear(pw)
		if err == nil {
			k.dec = s
			return s, nil
		}
		if !errors.Is(err, x509.IncorrectPasswordError) {
			k.encErr = fmt.Errorf("%s: %w", k.path, err)
			return nil, k.encErr
		}
	}
	k.encErr = fmt.Errorf("wrong passphrase for %s (3 attempts)", k.path)
	return nil, k.encErr
}

// lazySigner offers an encrypted key's public half and decrypts on first use.
type lazySigner struct {
	kr            *keyring
	k             *keyFile
	pause, resume func()
}

func (l *lazySigner) PublicKey() ssh.PublicKey { return l.k.pub }

func (l *lazySigner) Sign(r io.Reader, data []byte) (*ssh.Signature, error) {
	s, err := l.kr.decrypt(l.k, l.pause, l.resume)
	if err != nil {
		return nil, err
	}
	return s.Sign(r, data)
}

func (l *lazySigner) SignWithAlgorithm(r io.Reader, data []byte, algo string) (*ssh.Signature, error) {
	s, err := l.kr.decrypt(l.k, l.pause, l.resume)
	if err != nil {
		return nil, err
	}
	as, ok := s.(ssh.AlgorithmSigner)
	if !ok {
		return nil, fmt.Errorf("%s: key cannot sign with %s", l.k.path, algo)
	}
	return as.SignWithAlgorithm(r, data, algo)
}

// agentClient connects to SSH_AUTH_SOCK once per pool.
func (kr *keyring) agentClient() (agent.ExtendedAgent, error) {
	kr.agentOnce.Do(func() {
		sock := os.Getenv("SSH_AUTH_SOCK")
		if sock == "" {
			kr.agentErr = errors.New("no ssh-agent (SSH_AUTH_SOCK is not set)")
			return
		}
		c, err := net.Dial("unix", sock)
		if err != nil {
			kr.agentErr = fmt.Errorf("ssh-agent at %s: %w", sock, err)
			return
		}
		kr.agent = agent.NewClient(c)
	})
	return kr.agent, kr.agentErr
}

// authFor builds the publickey method for e: its key files first (explicit
// ones in order, then OpenSSH's defaults if asked), then the agent's keys
// (with onlyFiles, as IdentitiesOnly, only those that are one of the files'
// keys). notes collects why keys were skipped, for the error message if
// every key is refused.
func (kr *keyring) authFor(files []string, defaults, onlyFiles bool, pause, resume func(), notes *[]string) ssh.AuthMethod {
	return ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
		var out []ssh.Signer
		seen := map[string]bool{}
		addSigner := func(s ssh.Signer) {
			id := string(s.PublicKey().Marshal())
			if !seen[id] {
				seen[id] = true
				out = append(out, s)
			}
		}
		paths := files
		if defaults {
			paths = append(append([]string(nil), files...), defaultIdentities()...)
		}
		fileKeys := map[string]bool{}
		for i, p := range paths {
			k := kr.load(p)
			if k.pub != nil {
				fileKeys[string(k.pub.Marshal())] = true
			}
			switch {
			case k.err != nil:
				if !(i >= len(files) && errors.Is(k.err, os.ErrNotExist)) { // missing default keys are normal
					*notes = append(*notes, k.err.Error())
				}
			case k.signer != nil:
				*notes = append(*notes, "key "+p)
				addSigner(k.signer)
			default:
				*notes = append(*notes, "key "+p+" (encrypted)")
				addSigner(&lazySigner{kr: kr, k: k, pause: pause, resume: resume})
			}
		}
		if a, err := kr.agentClient(); err != nil {
			*notes = append(*notes, err.Error())
		} else if ss, err := a.Signers(); err != nil {
			*notes = append(*notes, "ssh-agent: "+err.Error())
		} else {
			n := 0
			for _, s := range ss {
				if !onlyFiles || fileKeys[string(s.PublicKey().Marshal())] {
					addSigner(s)
					n++
				}
			}
			if onlyFiles {
				*notes = append(*notes, fmt.Sprintf("%d of ssh-agent's %d key(s) (IdentitiesOnly: only the IdentityFile keys)", n, len(ss)))
			} else {
				*notes = append(*notes, fmt.Sprintf("%d key(s) from ssh-agent", len(ss)))
			}
		}
		return out, nil
	})
}
