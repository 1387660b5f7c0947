package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"math/big"
	"strings"
	"time"
)

// Real key material, made deterministically from the seed: since Go 1.26
// the crypto packages ignore a caller's random source, so primes and
// scalars are drawn here and the keys assembled from them.

func (g *gen) prime(bits int) *big.Int {
	for {
		b := g.bytes(bits / 8)
		b[0] |= 0xc0
		b[len(b)-1] |= 1
		p := new(big.Int).SetBytes(b)
		if p.ProbablyPrime(20) {
			return p
		}
	}
}

func (g *gen) rsaKey(bits int) *rsa.PrivateKey {
	e := big.NewInt(65537)
	one := big.NewInt(1)
	for {
		p, q := g.prime(bits/2), g.prime(bits/2)
		if p.Cmp(q) == 0 {
			continue
		}
		pm, qm := new(big.Int).Sub(p, one), new(big.Int).Sub(q, one)
		phi := new(big.Int).Mul(pm, qm)
		d := new(big.Int).ModInverse(e, phi)
		if d == nil {
			continue
		}
		k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: new(big.Int).Mul(p, q), E: 65537}, D: d, Primes: []*big.Int{p, q}}
		k.Precompute()
		if k.Validate() != nil {
			continue
		}
		return k
	}
}

func (g *gen) ecKey() *ecdsa.PrivateKey {
	for {
		k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), g.bytes(32))
		if err == nil {
			return k
		}
	}
}

func pemText(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// rsaPEM is "RSA PRIVATE KEY" (PKCS #1) or "PRIVATE KEY" (PKCS #8).
func rsaPEM(k *rsa.PrivateKey, pkcs8 bool) string {
	if !pkcs8 {
		return pemText("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k))
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err)
	}
	return pemText("PRIVATE KEY", der)
}

func ecPEM(k *ecdsa.PrivateKey) string {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		panic(err)
	}
	return pemText("EC PRIVATE KEY", der)
}

// ssh wire encoding
func sshString(b []byte) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(len(b)))
	return append(out, b...)
}

func sshMPInt(n *big.Int) []byte {
	b := n.Bytes()
	if len(b) > 0 && b[0]&0x80 != 0 {
		b = append([]byte{0}, b...)
	}
	return sshString(b)
}

// openSSHKey is an unencrypted "OPENSSH PRIVATE KEY" for an Ed25519 key,
// laid out as ssh-keygen writes it.
func (g *gen) openSSHKey(comment string) (private, public string) {
	priv := ed25519.NewKeyFromSeed(g.bytes(32))
	pub := priv.Public().(ed25519.PublicKey)
	pubBlob := append(sshString([]byte("ssh-ed25519")), sshString(pub)...)

	check := g.bytes(4)
	var sec []byte
	sec = append(sec, check...)
	sec = append(sec, check...)
	sec = append(sec, sshString([]byte("ssh-ed25519"))...)
	sec = append(sec, sshString(pub)...)
	sec = append(sec, sshString(priv)...)
	sec = append(sec, sshString([]byte(comment))...)
	for i := byte(1); len(sec)%8 != 0; i++ {
		sec = append(sec, i)
	}

	var blob []byte
	blob = append(blob, "openssh-key-v1\x00"...)
	blob = append(blob, sshString([]byte("none"))...)
	blob = append(blob, sshString([]byte("none"))...)
	blob = append(blob, sshString(nil)...)
	blob = binary.BigEndian.AppendUint32(blob, 1)
	blob = append(blob, sshString(pubBlob)...)
	blob = append(blob, sshString(sec)...)

	b64 := base64.StdEncoding.EncodeToString(blob)
	var sb strings.Builder
	sb.WriteString("-----BEGIN OPENSSH PRIVATE KEY-----\n")
	for len(b64) > 70 {
		sb.WriteString(b64[:70] + "\n")
		b64 = b64[70:]
	}
	sb.WriteString(b64 + "\n-----END OPENSSH PRIVATE KEY-----\n")
	return sb.String(), "ssh-ed25519 " + base64.StdEncoding.EncodeToString(pubBlob) + " " + comment
}

func sshRSAPublic(k *rsa.PublicKey, comment string) string {
	var blob []byte
	blob = append(blob, sshString([]byte("ssh-rsa"))...)
	blob = append(blob, sshMPInt(big.NewInt(int64(k.E)))...)
	blob = append(blob, sshMPInt(k.N)...)
	return "ssh-rsa " + base64.StdEncoding.EncodeToString(blob) + " " + comment
}

func publicKeyPEM(k *rsa.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		panic(err)
	}
	return pemText("PUBLIC KEY", der)
}

// certificatePEM is a self-signed Ed25519 certificate (Ed25519 signatures
// are deterministic, so the corpus stays a function of the seed).
func (g *gen) certificatePEM(cn string) string {
	priv := ed25519.NewKeyFromSeed(g.bytes(32))
	nb := time.Date(2024, 1, 1+g.r.Intn(300), 0, 0, 0, 0, time.UTC)
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).SetBytes(g.bytes(16)),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"Acme Corp"}},
		NotBefore:    nb,
		NotAfter:     nb.AddDate(1, 0, 0),
		DNSNames:     []string{cn},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		panic(err)
	}
	return pemText("CERTIFICATE", der)
}
