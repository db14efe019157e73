// The stand-in attestation agent's token API and a keyprovider served over ttrpc (used by aa-server
// in main.go):
//
//	GetToken{TokenType "kbs"}   with AA_KBS_URL set: attests to that KBS (kbs_server.py) as the
//	                            attestation agent's KbsTokenGetter does (guest-components
//	                            attestation-agent/attestation-agent/src/token/kbs.rs): RCAR handshake
//	                            with Trustee's sample evidence for a fresh EC P-256 TEE key, then
//	                            answers {"token": JWT, "tee_keypair": PKCS#8 PEM}; logged as
//	                            {"method": "GetToken", "token_type": ...}. Without AA_KBS_URL the
//	                            method is not registered (UNIMPLEMENTED, an agent without it).
//	keyprovider.KeyProviderService/UnWrapKey
//	                            with AA_KEYPROVIDER_CMD set (a program and its arguments, split on
//	                            spaces): the request's JSON goes to the program's stdin, its stdout
//	                            is the answer (the cmd keyprovider protocol, keyprovider.py);
//	                            logged as {"method": "UnWrapKey"}.
package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// attestation_agent.GetTokenRequest / GetTokenResponse.
type GetTokenRequest struct {
	TokenType string `protobuf:"bytes,1,opt,name=TokenType,proto3"`
}

func (m *GetTokenRequest) Reset()         { *m = GetTokenRequest{} }
func (m *GetTokenRequest) String() string { return fmt.Sprintf("%+v", *m) }
func (*GetTokenRequest) ProtoMessage()    {}

type GetTokenResponse struct {
	Token []byte `protobuf:"bytes,1,opt,name=Token,proto3"`
}

func (m *GetTokenResponse) Reset()         { *m = GetTokenResponse{} }
func (m *GetTokenResponse) String() string { return fmt.Sprintf("%+v", *m) }
func (*GetTokenResponse) ProtoMessage()    {}

// keyprovider.KeyProviderKeyWrapProtocolInput / Output.
type KeyProviderInput struct {
	Input []byte `protobuf:"bytes,1,opt,name=KeyProviderKeyWrapProtocolInput,proto3"`
}

func (m *KeyProviderInput) Reset()         { *m = KeyProviderInput{} }
func (m *KeyProviderInput) String() string { return fmt.Sprintf("%+v", *m) }
func (*KeyProviderInput) ProtoMessage()    {}

type KeyProviderOutput struct {
	Output []byte `protobuf:"bytes,1,opt,name=KeyProviderKeyWrapProtocolOutput,proto3"`
}

func (m *KeyProviderOutput) Reset()         { *m = KeyProviderOutput{} }
func (m *KeyProviderOutput) String() string { return fmt.Sprintf("%+v", *m) }
func (*KeyProviderOutput) ProtoMessage()    {}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// canonicalJSON: Go sorts map keys; without HTML escaping this is RFC 8785 for strings and objects.
func canonicalJSON(v interface{}) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		die("%v", err)
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

func kbsPost(c *http.Client, url string, body interface{}, cookie string) (*http.Response, []byte, error) {
	req, err := http.NewRequest("POST", url, bytes.NewReader(canonicalJSON(body)))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != 200 {
		return resp, data, fmt.Errorf("%s: HTTP %d: %s", url, resp.StatusCode, data)
	}
	return resp, data, err
}

// kbsToken attests to the KBS at url with sample evidence and returns the AA's GetToken message.
func kbsToken(url string) ([]byte, error) {
	c := &http.Client{Timeout: 30 * time.Second}
	resp, data, err := kbsPost(c, url+"/kbs/v0/auth", map[string]interface{}{"version": "0.4.0", "tee": "sample",
		"extra-params": map[string]interface{}{"supported-hash-algorithms": []string{"sha384"}}}, "")
	if err != nil {
		return nil, err
	}
	var ch struct {
		Nonce string `json:"nonce"`
	}
	if err := json.Unmarshal(data, &ch); err != nil {
		return nil, err
	}
	cookie := ""
	for _, ck := range resp.Cookies() {
		if ck.Name == "kbs-session-id" {
			cookie = ck.Name + "=" + ck.Value
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	jwk := map[string]string{"alg": "ECDH-ES+A256KW", "crv": "P-256", "kty": "EC",
		"x": b64u(key.X.FillBytes(make([]byte, 32))), "y": b64u(key.Y.FillBytes(make([]byte, 32)))}
	rd := sha512.Sum384(canonicalJSON(map[string]interface{}{"additional-evidence": "", "nonce": ch.Nonce,
		"tee-pubkey": jwk}))
	_, data, err = kbsPost(c, url+"/kbs/v0/attest", map[string]interface{}{
		"runtime-data": map[string]interface{}{"nonce": ch.Nonce, "tee-pubkey": jwk},
		"tee-evidence": map[string]interface{}{"primary_evidence": map[string]string{"svn": "1",
			"report_data": base64.StdEncoding.EncodeToString(rd[:])}, "additional_evidence": ""}}, cookie)
	if err != nil {
		return nil, err
	}
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(data, &tok); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]string{"token": tok.Token,
		"tee_keypair": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))})
}

// aaTokenMethods adds GetToken to the agent's methods when AA_KBS_URL is set.
func aaTokenMethods(m map[string]ttrpc.Method, mode string, logLine func(map[string]interface{})) {
	url := os.Getenv("AA_KBS_URL")
	if url == "" {
		return
	}
	m["GetToken"] = func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
		var req GetTokenRequest
		if err := unmarshal(&req); err != nil {
			return nil, err
		}
		logLine(map[string]interface{}{"method": "GetToken", "token_type": req.TokenType})
		if mode == "fail" {
			return nil, status.Errorf(codes.Internal, "test attestation agent: no token")
		}
		if req.TokenType != "kbs" {
			return nil, status.Errorf(codes.InvalidArgument, "unsupported token type %q", req.TokenType)
		}
		msg, err := kbsToken(url)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "test attestation agent: KBS: %v", err)
		}
		return &GetTokenResponse{Token: msg}, nil
	}
}

// keyproviderService registers keyprovider.KeyProviderService/UnWrapKey when AA_KEYPROVIDER_CMD is set.
func keyproviderService(s *ttrpc.Server, logLine func(map[string]interface{})) {
	cmdline := strings.Fields(os.Getenv("AA_KEYPROVIDER_CMD"))
	if len(cmdline) == 0 {
		return
	}
	s.Register("keyprovider.KeyProviderService", map[string]ttrpc.Method{
		"UnWrapKey": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			var req KeyProviderInput
			if err := unmarshal(&req); err != nil {
				return nil, err
			}
			logLine(map[string]interface{}{"method": "UnWrapKey"})
			cmd := exec.Command(cmdline[0], cmdline[1:]...)
			cmd.Stdin = bytes.NewReader(req.Input)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				return nil, status.Errorf(codes.Internal, "keyprovider: %v: %s", err, stderr.String())
			}
			return &KeyProviderOutput{Output: out}, nil
		},
	})
}
