package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash/crc32"
	"math/rand"
	"net/url"
	"strings"
)

// Character sets. alnum is in base62 digit order (0-9A-Za-z), which the
// GitHub/npm checksum encoding relies on.
const (
	upper   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	lower   = "abcdefghijklmnopqrstuvwxyz"
	digits  = "0123456789"
	alnum   = digits + upper + lower
	letters = upper + lower
	hexl    = "0123456789abcdef"
	hexu    = "0123456789ABCDEF"
	b32     = upper + "234567"
	urlsafe = alnum + "_-"
	b64set  = upper + lower + digits + "+/"
	// pwset is what generated passwords are made of: URL-unsafe characters
	// (@ : / ? %) force percent-encoding when they go into a URL, and none
	// of them needs escaping in the quoted forms the templates use.
	pwset = alnum + "!%*+-=?^_~@:/"
)

// gen is the corpus's only source of randomness: everything derives from
// the seed, so a seed names a corpus.
type gen struct{ r *rand.Rand }

func newGen(seed int64) *gen { return &gen{r: rand.New(rand.NewSource(seed))} }

// between returns a random int in [a, b].
func (g *gen) between(a, b int) int { return a + g.r.Intn(b-a+1) }

func (g *gen) str(n int, set string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = set[g.r.Intn(len(set))]
	}
	return string(b)
}

// body is str whose first and last characters are alphanumeric, as most
// real tokens are (it keeps `\b`-anchored patterns meaningful).
func (g *gen) body(n int, set string) string {
	if n < 2 {
		return g.str(n, alnum)
	}
	return g.str(1, alnum) + g.str(n-2, set) + g.str(1, alnum)
}

func (g *gen) pick(xs ...string) string { return xs[g.r.Intn(len(xs))] }

func (g *gen) bytes(n int) []byte {
	b := make([]byte, n)
	g.r.Read(b)
	return b
}

func (g *gen) uuid() string {
	b := g.bytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// password is a high-entropy password: half are plain alphanumeric (API
// key style), half mix in punctuation.
func (g *gen) password() string {
	n := g.between(16, 32)
	if g.r.Intn(2) == 0 {
		return g.str(n, alnum)
	}
	for {
		p := g.body(n, pwset)
		if strings.ContainsAny(p, "!%*+-=?^_~@:/") {
			return p
		}
	}
}

// urlPassword is a password that certainly needs percent-encoding.
func (g *gen) urlPassword() string {
	for {
		p := g.str(2, alnum) + g.body(g.between(12, 24), pwset)
		if strings.ContainsAny(p, "@:/?%") {
			return p
		}
	}
}

func base62(n uint32) string {
	var b [6]byte
	for i := 5; i >= 0; i-- {
		b[i] = alnum[n%62]
		n /= 62
	}
	return string(b[:])
}

// checksummed is the GitHub (and npm) token layout: prefix + 30 base62
// characters + the base62 CRC32 of those 30 characters, 6 digits.
func (g *gen) checksummed(prefix string) string {
	b := g.str(30, alnum)
	return prefix + b + base62(crc32.ChecksumIEEE([]byte(b)))
}

// badChecksum is a token of the same shape whose checksum is wrong.
func (g *gen) badChecksum(prefix string) string {
	t := g.checksummed(prefix)
	last := t[len(t)-1]
	for {
		c := alnum[g.r.Intn(len(alnum))]
		if c != last {
			return t[:len(t)-1] + string(c)
		}
	}
}

func (g *gen) awsKeyID(prefix string) string {
	return prefix + g.str(1, "QRSTUVWXYZ234567") + g.str(15, b32)
}

func (g *gen) awsSecret() string { return g.str(40, b64set) }

func (g *gen) awsSessionToken() string {
	return "IQoJb3JpZ2luX2Vj" + g.pick("E", "EH", "EJ") + g.str(g.between(360, 620), b64set)
}

func (g *gen) jwt() string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	iat := 1700000000 + g.r.Intn(60000000)
	payload := fmt.Sprintf(`{"sub":"%s","name":"%s","role":"%s","iat":%d,"exp":%d}`,
		g.uuid(), g.pick("svc-billing", "ci-deployer", "alice", "bob", "reporting"),
		g.pick("admin", "service", "reader"), iat, iat+3600*g.between(1, 720))
	p := enc.EncodeToString([]byte(payload))
	m := hmac.New(sha256.New, g.bytes(32))
	m.Write([]byte(header + "." + p))
	return header + "." + p + "." + enc.EncodeToString(m.Sum(nil))
}

// cred is one generated credential and how it is written.
type cred struct {
	family string
	// secret is the plaintext value labelled as the secret.
	secret string
	// text is what goes into the file as the value (a URL or connection
	// string around the secret; the secret itself by default).
	text string
	// id is a non-secret identifier paired with the secret (AWS key ID).
	id string
	// env is the conventional variable name for it.
	env string
	// encoding and encoded describe how the secret appears inside text
	// when it is not verbatim (percent-encoded URL passwords).
	encoding, encoded string
}

func tok(family, env, secret string) cred {
	return cred{family: family, secret: secret, text: secret, env: env}
}

// families are the single-line credentials that can go into any config
// format, keyed by family; dealt round-robin to the templates.
//
// Families marked keyed have no distinctive shape of their own (a Datadog
// key is 32 hex digits): they are only ever written under their variable
// name, never in a nameless context such as an Authorization header.
var families = []struct {
	name   string
	weight int
	keyed  bool
	make   func(g *gen) cred
}{
	{"github-pat", 1, false, func(g *gen) cred {
		return tok("github-pat", g.pick("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_PAT"), g.checksummed("ghp_"))
	}},
	{"github-oauth", 1, false, func(g *gen) cred { return tok("github-oauth", "GITHUB_OAUTH_TOKEN", g.checksummed("gho_")) }},
	{"github-app-token", 1, false, func(g *gen) cred {
		return tok("github-app-token", "GITHUB_APP_TOKEN", g.checksummed(g.pick("ghu_", "ghs_")))
	}},
	{"github-refresh-token", 1, false, func(g *gen) cred {
		return tok("github-refresh-token", "GITHUB_REFRESH_TOKEN", g.checksummed("ghr_"))
	}},
	{"github-fine-grained-pat", 1, false, func(g *gen) cred {
		return tok("github-fine-grained-pat", "GITHUB_TOKEN", "github_pat_11"+g.str(20, upper+digits)+"_"+g.str(59, alnum))
	}},
	{"npm-token", 1, false, func(g *gen) cred { return tok("npm-token", "NPM_TOKEN", g.checksummed("npm_")) }},
	{"gitlab-pat", 1, false, func(g *gen) cred { return tok("gitlab-pat", "GITLAB_TOKEN", "glpat-"+g.body(20, urlsafe)) }},
	{"slack-bot-token", 1, false, func(g *gen) cred {
		return tok("slack-bot-token", "SLACK_BOT_TOKEN", fmt.Sprintf("xoxb-%s%s-%s%s-%s",
			g.str(1, "123456789"), g.str(g.between(9, 12), digits), g.str(1, "123456789"), g.str(g.between(9, 12), digits), g.str(24, alnum)))
	}},
	{"slack-user-token", 1, false, func(g *gen) cred {
		return tok("slack-user-token", "SLACK_USER_TOKEN", fmt.Sprintf("xoxp-%s%s-%s%s-%s%s-%s",
			g.str(1, "123456789"), g.str(12, digits), g.str(1, "123456789"), g.str(12, digits), g.str(1, "123456789"), g.str(12, digits), g.str(32, hexl)))
	}},
	{"slack-webhook", 1, false, func(g *gen) cred {
		return tok("slack-webhook", "SLACK_WEBHOOK_URL", fmt.Sprintf("https://hooks.slack.com/services/T%s/B%s/%s",
			g.str(g.between(8, 10), upper+digits), g.str(g.between(8, 10), upper+digits), g.str(24, alnum)))
	}},
	{"stripe-secret-key", 1, false, func(g *gen) cred {
		return tok("stripe-secret-key", "STRIPE_SECRET_KEY", "sk_live_"+g.pick("51", "4e")+g.str(g.between(22, 97), alnum))
	}},
	{"stripe-restricted-key", 1, false, func(g *gen) cred {
		return tok("stripe-restricted-key", "STRIPE_RESTRICTED_KEY", "rk_live_"+g.pick("51", "4e")+g.str(g.between(22, 97), alnum))
	}},
	{"google-api-key", 1, false, func(g *gen) cred {
		return tok("google-api-key", g.pick("GOOGLE_API_KEY", "GOOGLE_MAPS_API_KEY", "FIREBASE_API_KEY"), "AIza"+g.body(35, urlsafe))
	}},
	{"azure-storage-key", 1, false, func(g *gen) cred {
		key := base64.StdEncoding.EncodeToString(g.bytes(64))
		acct := g.pick("acme", "billing", "media", "logs") + g.str(g.between(4, 10), lower+digits)
		c := tok("azure-storage-key", "AZURE_STORAGE_CONNECTION_STRING", key)
		c.text = "DefaultEndpointsProtocol=https;AccountName=" + acct + ";AccountKey=" + key + ";EndpointSuffix=core.windows.net"
		return c
	}},
	{"pypi-token", 1, false, func(g *gen) cred {
		return tok("pypi-token", "PYPI_TOKEN", "pypi-AgEIcHlwaS5vcmc"+g.pick("CJ", "CI")+g.body(g.between(140, 200), urlsafe))
	}},
	{"dockerhub-pat", 1, false, func(g *gen) cred { return tok("dockerhub-pat", "DOCKERHUB_TOKEN", "dckr_pat_"+g.body(27, urlsafe)) }},
	{"twilio-api-key", 1, false, func(g *gen) cred { return tok("twilio-api-key", "TWILIO_API_KEY", "SK"+g.str(32, hexl)) }},
	{"sendgrid-api-key", 1, false, func(g *gen) cred {
		return tok("sendgrid-api-key", "SENDGRID_API_KEY", "SG."+g.body(22, urlsafe)+"."+g.body(43, urlsafe))
	}},
	{"mailgun-api-key", 1, true, func(g *gen) cred { return tok("mailgun-api-key", "MAILGUN_API_KEY", "key-"+g.str(32, hexl)) }},
	{"openai-api-key", 1, false, func(g *gen) cred {
		if g.r.Intn(4) == 0 {
			return tok("openai-api-key", "OPENAI_API_KEY", "sk-"+g.str(20, alnum)+"T3BlbkFJ"+g.str(20, alnum))
		}
		return tok("openai-api-key", "OPENAI_API_KEY", "sk-"+g.pick("proj", "proj", "svcacct")+"-"+g.body(74, urlsafe)+"T3BlbkFJ"+g.body(74, urlsafe))
	}},
	{"anthropic-api-key", 1, false, func(g *gen) cred {
		return tok("anthropic-api-key", "ANTHROPIC_API_KEY", "sk-ant-api03-"+g.body(93, urlsafe)+"AA")
	}},
	{"huggingface-token", 1, false, func(g *gen) cred { return tok("huggingface-token", "HF_TOKEN", "hf_"+g.str(34, letters)) }},
	{"digitalocean-token", 1, false, func(g *gen) cred {
		return tok("digitalocean-token", "DIGITALOCEAN_TOKEN", g.pick("dop_v1_", "dop_v1_", "doo_v1_")+g.str(64, hexl))
	}},
	{"shopify-token", 1, false, func(g *gen) cred {
		return tok("shopify-token", "SHOPIFY_ACCESS_TOKEN", g.pick("shpat_", "shpat_", "shpss_")+g.str(32, hexl))
	}},
	{"databricks-token", 1, false, func(g *gen) cred { return tok("databricks-token", "DATABRICKS_TOKEN", "dapi"+g.str(32, hexl)) }},
	{"vault-token", 1, false, func(g *gen) cred {
		return tok("vault-token", "VAULT_TOKEN", "hvs.CAESI"+g.body(g.between(86, 100), urlsafe))
	}},
	{"terraform-cloud-token", 1, false, func(g *gen) cred {
		return tok("terraform-cloud-token", "TFE_TOKEN", g.str(14, alnum)+".atlasv1."+g.body(67, urlsafe))
	}},
	{"doppler-token", 1, false, func(g *gen) cred { return tok("doppler-token", "DOPPLER_TOKEN", "dp.pt."+g.str(43, alnum)) }},
	{"pulumi-token", 1, false, func(g *gen) cred { return tok("pulumi-token", "PULUMI_ACCESS_TOKEN", "pul-"+g.str(40, hexl)) }},
	{"grafana-service-account-token", 1, false, func(g *gen) cred {
		return tok("grafana-service-account-token", "GRAFANA_TOKEN", "glsa_"+g.str(32, alnum)+"_"+g.str(8, hexl))
	}},
	{"grafana-cloud-token", 1, false, func(g *gen) cred {
		j := fmt.Sprintf(`{"o":"%s","n":"stack-%s-hm-%s","k":"%s","m":{"r":"%s"}}`, g.str(6, digits), g.str(6, digits),
			g.pick("read", "write", "metrics-push"), g.str(24, alnum), g.pick("prod-us-east-0", "prod-eu-west-2", "prod-ap-southeast-1"))
		return tok("grafana-cloud-token", "GRAFANA_CLOUD_TOKEN", "glc_"+base64.StdEncoding.EncodeToString([]byte(j)))
	}},
	{"newrelic-api-key", 1, false, func(g *gen) cred {
		return tok("newrelic-api-key", "NEW_RELIC_API_KEY", "NRAK-"+g.str(27, upper+digits))
	}},
	{"sentry-token", 1, false, func(g *gen) cred {
		if g.r.Intn(3) == 0 {
			return tok("sentry-token", "SENTRY_AUTH_TOKEN", "sntryu_"+g.str(64, hexl))
		}
		j := fmt.Sprintf(`{"iat":%d.%06d,"url":"https://sentry.io","region_url":"https://%s.sentry.io","org":"%s"}`,
			1690000000+g.r.Intn(50000000), g.r.Intn(1000000), g.pick("us", "de"), g.pick("acme", "acme-corp", "globex"))
		return tok("sentry-token", "SENTRY_AUTH_TOKEN", "sntrys_"+base64.StdEncoding.EncodeToString([]byte(j))+"_"+g.body(43, alnum+"+/"))
	}},
	{"atlassian-api-token", 1, false, func(g *gen) cred {
		return tok("atlassian-api-token", g.pick("JIRA_API_TOKEN", "ATLASSIAN_API_TOKEN", "CONFLUENCE_API_TOKEN"),
			"ATATT3xFfGF0"+g.body(171, urlsafe)+"="+g.str(8, hexu))
	}},
	{"discord-webhook", 1, false, func(g *gen) cred {
		return tok("discord-webhook", "DISCORD_WEBHOOK_URL", "https://discord.com/api/webhooks/"+g.str(1, "123456789")+g.str(g.between(17, 18), digits)+"/"+g.body(68, urlsafe))
	}},
	{"telegram-bot-token", 1, true, func(g *gen) cred {
		return tok("telegram-bot-token", "TELEGRAM_BOT_TOKEN", g.str(1, "123456789")+g.str(g.between(8, 9), digits)+":AA"+g.body(33, urlsafe))
	}},
	{"linear-api-key", 1, false, func(g *gen) cred { return tok("linear-api-key", "LINEAR_API_KEY", "lin_api_"+g.str(40, alnum)) }},
	{"notion-token", 1, false, func(g *gen) cred {
		return tok("notion-token", "NOTION_TOKEN", "ntn_"+g.str(11, digits)+g.str(35, alnum))
	}},
	{"cloudflare-api-token", 1, true, func(g *gen) cred { return tok("cloudflare-api-token", "CLOUDFLARE_API_TOKEN", g.body(40, urlsafe)) }},
	{"datadog-api-key", 1, true, func(g *gen) cred {
		return tok("datadog-api-key", g.pick("DATADOG_API_KEY", "DD_API_KEY"), g.str(32, hexl))
	}},
	{"datadog-app-key", 1, true, func(g *gen) cred {
		return tok("datadog-app-key", g.pick("DATADOG_APP_KEY", "DD_APP_KEY"), g.str(40, hexl))
	}},
	{"okta-api-token", 1, true, func(g *gen) cred { return tok("okta-api-token", "OKTA_API_TOKEN", "00"+g.body(40, urlsafe)) }},
	{"fastly-api-token", 1, true, func(g *gen) cred { return tok("fastly-api-token", "FASTLY_API_TOKEN", g.body(32, urlsafe)) }},
	{"algolia-api-key", 1, true, func(g *gen) cred { return tok("algolia-api-key", "ALGOLIA_ADMIN_API_KEY", g.str(32, hexl)) }},
	{"jwt", 1, false, func(g *gen) cred { return tok("jwt", g.pick("API_JWT", "SERVICE_JWT", "AUTH_BEARER_TOKEN"), g.jwt()) }},
	{"postgres-uri", 1, false, func(g *gen) cred {
		return g.dbURL("postgres-uri", "DATABASE_URL", g.pick("postgres", "postgresql"), g.pick("app", "billing", "postgres"), "5432", "/"+g.pick("app", "billing", "orders"))
	}},
	{"mysql-uri", 1, false, func(g *gen) cred {
		return g.dbURL("mysql-uri", "MYSQL_URL", "mysql", g.pick("root", "app", "wordpress"), "3306", "/"+g.pick("app", "shop", "wp"))
	}},
	{"mongodb-uri", 1, false, func(g *gen) cred {
		return g.dbURL("mongodb-uri", "MONGODB_URI", g.pick("mongodb", "mongodb+srv"), g.pick("admin", "app", "analytics"), "", "/"+g.pick("events", "app")+"?retryWrites=true&w=majority")
	}},
	{"redis-uri", 1, false, func(g *gen) cred {
		return g.dbURL("redis-uri", "REDIS_URL", g.pick("redis", "rediss"), g.pick("", "default"), "6379", "/0")
	}},
	{"amqp-uri", 1, false, func(g *gen) cred {
		return g.dbURL("amqp-uri", "RABBITMQ_URL", g.pick("amqp", "amqps"), g.pick("app", "worker"), "5672", "/"+g.pick("%2F", "jobs"))
	}},
	{"basic-auth-url", 1, false, func(g *gen) cred {
		return g.dbURL("basic-auth-url", g.pick("ARTIFACTORY_URL", "REGISTRY_URL", "WEBHOOK_ENDPOINT"), "https", g.pick("deploy", "ci-bot", "admin"), "", "/"+g.pick("api/v1/hooks", "artifactory/api/npm/npm", "simple/"))
	}},
	{"generic", 4, true, func(g *gen) cred {
		c := tok("generic", g.pick("DB_PASSWORD", "API_KEY", "CLIENT_SECRET", "SECRET_KEY", "AUTH_TOKEN", "ADMIN_PASSWORD",
			"SESSION_SECRET", "ENCRYPTION_KEY", "SMTP_PASSWORD", "LDAP_BIND_PASSWORD", "APP_SECRET", "SIGNING_SECRET"), "")
		c.secret = g.password()
		c.text = c.secret
		return c
	}},
}

// dbURL is a URL with a password in its userinfo; half of the passwords
// need percent-encoding.
func (g *gen) dbURL(family, env, scheme, user, port, path string) cred {
	pw := g.password()
	if g.r.Intn(2) == 0 {
		pw = g.urlPassword()
	}
	host := g.pick("db", "prod-db", "primary", "mq", "cache", "internal") + "." + g.pick("acme.internal", "eu-west-1.rds.amazonaws.com", "svc.cluster.local", "example.net")
	if port != "" && !strings.HasSuffix(scheme, "+srv") {
		host += ":" + port
	}
	u := &url.URL{Scheme: scheme, User: url.UserPassword(user, pw), Host: host}
	s := u.String() + path
	c := cred{family: family, secret: pw, text: s, env: env}
	if enc := u.User.String(); !strings.HasSuffix(enc, ":"+pw) {
		c.encoding = "percent"
		c.encoded = enc[strings.Index(enc, ":")+1:]
	}
	return c
}

// dealer hands out families round-robin in a shuffled order, so every
// family is used about equally often.
type dealer struct {
	g *gen
	// self deals only families recognisable without their variable name.
	self bool
	deck []int
}

func (d *dealer) next() cred {
	if len(d.deck) == 0 {
		for i, f := range families {
			if d.self && f.keyed {
				continue
			}
			for range f.weight {
				d.deck = append(d.deck, i)
			}
		}
		d.g.r.Shuffle(len(d.deck), func(i, j int) { d.deck[i], d.deck[j] = d.deck[j], d.deck[i] })
	}
	i := d.deck[0]
	d.deck = d.deck[1:]
	return families[i].make(d.g)
}

// name styles for one env-style variable name.
func snake(env string) string { return strings.ToLower(env) }

func camel(env string) string {
	parts := strings.Split(strings.ToLower(env), "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

func dotted(env string) string { return strings.ReplaceAll(strings.ToLower(env), "_", ".") }

func kebab(env string) string { return strings.ReplaceAll(strings.ToLower(env), "_", "-") }
