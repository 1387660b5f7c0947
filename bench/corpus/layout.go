package main

import (
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"strings"
)

// The corpus tree:
//
//	services/<name>/   eight applications (python, node, go, java), each
//	                   with .env, compose, Kubernetes, CI, Dockerfile,
//	                   scripts, docs and its language's config files
//	infra/             Terraform, Ansible, cluster manifests, certificates,
//	                   GCP service-account keys, nginx, logs
//	home/<user>/       dotfiles: AWS, npm, PyPI, Docker, git, ssh, kube
//	docs/              Markdown
//	src/               clean standard-library Go source (background)

type project struct{ name, lang string }

var projects = []project{
	{"billing-api", "python"}, {"web-frontend", "node"}, {"orders-service", "go"}, {"payments-gateway", "java"},
	{"data-pipeline", "python"}, {"notifier", "node"}, {"auth-service", "go"}, {"inventory", "java"},
}

func (c *corpus) next() cred { return c.deal.next() }

// nextSelf is for nameless contexts (a bearer header, a bare value): only
// families recognisable by their own shape.
func (c *corpus) nextSelf() cred { return c.self.next() }

// names keeps variable names unique within one file.
type names map[string]int

func (n names) get(name string) string {
	n[name]++
	if k := n[name]; k > 1 {
		return fmt.Sprintf("%s_%d", name, k)
	}
	return name
}

// fill writes 0-2 filler lines from xs.
func (c *corpus) fill(b *strings.Builder, xs []string, lo, hi int) {
	for range c.between(lo, hi) {
		b.WriteString(xs[c.r.Intn(len(xs))] + "\n")
	}
}

var envFill = []string{
	"NODE_ENV=production", "PORT=8080", "LOG_LEVEL=info", "REDIS_HOST=redis", "FEATURE_NEW_CHECKOUT=true",
	"TZ=UTC", "HTTP_TIMEOUT=30s", "WORKERS=4", "S3_BUCKET=acme-assets-prod", "AWS_REGION=eu-west-1",
	"SENTRY_ENVIRONMENT=production", "", "# third-party services", "CACHE_TTL_SECONDS=300", "MAX_UPLOAD_MB=25",
}

var yamlFill = []string{
	"  log_level: info", "  port: 8080", "  region: eu-west-1", "  timeout: 30s", "  retries: 3",
	"  feature_flags: [checkout_v2, dark_mode]", "  cache_ttl: 300", "  bucket: acme-assets-prod",
}

// awsPair is a new-generation access key pair; the secret key is the
// labelled secret and the key ID its identifier.
func (c *corpus) awsPair(prefix string) (id string, secret cred) {
	id = c.awsKeyID(prefix)
	s := c.awsSecret()
	return id, cred{family: "aws-access-key", secret: s, text: s, id: id, env: "AWS_SECRET_ACCESS_KEY"}
}

func (c *corpus) sessionToken() cred {
	t := c.awsSessionToken()
	return cred{family: "aws-session-token", secret: t, text: t, env: "AWS_SESSION_TOKEN"}
}

func (c *corpus) build() {
	for i, p := range projects {
		c.service(i, p)
	}
	c.infra()
	for _, u := range []string{"alice", "bob", "ci-runner"} {
		c.home(u)
	}
	c.docs()
}

func (c *corpus) service(i int, p project) {
	d := "services/" + p.name + "/"
	c.envFile(d+".env", i%2 == 0)
	c.envExample(d + ".env.example")
	c.compose(d+"docker-compose.yml", p)
	c.k8sSecret(d+"k8s/secret.yaml", p, i == 3)
	c.helm(d+"chart/", p)
	c.workflow(d+".github/workflows/deploy.yml", p, i%2 == 1)
	c.dockerfile(d+"Dockerfile", p)
	c.deployScript(d+"scripts/deploy.sh", p, i%3 == 0)
	c.readme(d+"README.md", p)
	c.changelog(d + "CHANGELOG.md")
	switch p.lang {
	case "python":
		c.pythonSettings(d+p.name+"/settings.py", i == 0)
		c.iniFile(d + "config/app.ini")
		c.gcpServiceAccount(d+"deploy/gcp-sa.json", p.name)
	case "node":
		c.tsConfig(d+"src/config.ts", i == 1)
		c.jsonConfig(d+"config/production.json", p)
		c.npmrc(d+".npmrc", false)
		c.packageLock(d + "package-lock.json")
		c.yarnLock(d + "yarn.lock")
		c.nodeTest(d + "test/auth.test.js")
	case "go":
		c.goConfig(d + "internal/config/config.go")
		c.yamlConfig(d+"config.yaml", p)
		c.goSum(d + "go.sum")
		c.goTest(d + "internal/config/config_test.go")
	case "java":
		c.properties(d+"src/main/resources/application.properties", i == 3)
		c.springYAML(d + "src/main/resources/application-prod.yml")
		c.xmlConfig(d+"src/main/resources/datasource.xml", p)
		c.file(d+"src/main/resources/keys/jwt-signing.key", c.putPEM("", rsaPEM(c.rsaKey(2048), true), "")+"\n")
	}
}

func (c *corpus) envFile(name string, aws bool) {
	var b strings.Builder
	n := names{}
	b.WriteString("# production settings: do not commit (too late)\n")
	c.fill(&b, envFill, 1, 3)
	if aws {
		id, sk := c.awsPair("AKIA")
		fmt.Fprintf(&b, "AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n", id, c.put(sk))
	}
	for range c.between(4, 6) {
		c.fill(&b, envFill, 0, 2)
		cr := c.next()
		q := c.pick("", `"`, "'")
		fmt.Fprintf(&b, "%s=%s%s%s\n", n.get(cr.env), q, c.put(cr), q)
	}
	if aws {
		// a private key as a one-line escaped string, dotenv style
		k := rsaPEM(c.rsaKey(2048), false)
		fmt.Fprintf(&b, "JWT_PRIVATE_KEY=\"%s\"\n", c.putEscaped(Label{Family: "", Secret: strings.TrimSuffix(k, "\n")}, k, false))
	}
	c.fill(&b, envFill, 0, 2)
	c.file(name, b.String())
}

func (c *corpus) envExample(name string) {
	c.file(name, "# Copy to .env and fill in\n"+
		"DATABASE_URL=postgres://app:"+c.decoy("placeholder", "changeme")+"@localhost:5432/app\n"+
		"STRIPE_SECRET_KEY="+c.decoy("placeholder", "sk_live_xxxxxxxxxxxxxxxxxxxxxxxx")+"\n"+
		"GITHUB_TOKEN="+c.decoy("placeholder", "<your-github-token>")+"\n"+
		"OPENAI_API_KEY="+c.decoy("placeholder", "<your-api-key>")+"\n"+
		"SLACK_BOT_TOKEN="+c.decoy("placeholder", "xoxb-your-bot-token")+"\n"+
		"AWS_ACCESS_KEY_ID="+c.decoy("aws-example", "AKIAIOSFODNN7EXAMPLE")+"\n"+
		"AWS_SECRET_ACCESS_KEY="+c.decoy("aws-example", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")+"\n"+
		"SECRET_KEY="+c.decoy("placeholder", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")+"\n"+
		"PASSWORD_MIN_LENGTH="+c.decoy("keyword-no-secret", "12")+"\n"+
		"LOG_LEVEL=debug\n")
}

func (c *corpus) compose(name string, p project) {
	var b strings.Builder
	n := names{}
	digest := c.str(64, hexl)
	fmt.Fprintf(&b, "services:\n  app:\n    image: ghcr.io/acme/%s@sha256:%s\n", p.name, c.decoy("hash", digest))
	b.WriteString("    ports:\n      - \"8080:8080\"\n    environment:\n")
	list := c.r.Intn(2) == 0
	for range c.between(2, 4) {
		cr := c.next()
		if list {
			fmt.Fprintf(&b, "      - %s=%s\n", n.get(cr.env), c.put(cr))
		} else {
			fmt.Fprintf(&b, "      %s: \"%s\"\n", n.get(cr.env), c.put(cr))
		}
	}
	if list {
		fmt.Fprintf(&b, "      - API_KEY=%s\n      - REQUEST_ID_HEADER=X-Request-Id\n", c.decoy("placeholder", "${API_KEY}"))
	} else {
		fmt.Fprintf(&b, "      API_KEY: %s\n      REQUEST_ID_HEADER: X-Request-Id\n", c.decoy("placeholder", "${API_KEY}"))
	}
	pw := c.password()
	fmt.Fprintf(&b, "  db:\n    image: postgres:16\n    environment:\n      POSTGRES_USER: app\n      POSTGRES_PASSWORD: \"%s\"\n      POSTGRES_DB: app\n",
		c.put(cred{family: "generic", secret: pw, text: pw}))
	b.WriteString("    volumes:\n      - pgdata:/var/lib/postgresql/data\nvolumes:\n  pgdata: {}\n")
	c.file(name, b.String())
}

func (c *corpus) k8sSecret(name string, p project, aws bool) {
	var b strings.Builder
	n := names{}
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s-secrets\n  namespace: %s\n  labels:\n    app: %s\ntype: Opaque\ndata:\n", p.name, p.name, p.name)
	if aws {
		id, sk := c.awsPair("AKIA")
		id64 := base64.StdEncoding.EncodeToString([]byte(id))
		sk64 := base64.StdEncoding.EncodeToString([]byte(sk.secret))
		fmt.Fprintf(&b, "  AWS_ACCESS_KEY_ID: %s\n  AWS_SECRET_ACCESS_KEY: %s\n", id64, c.plant(Label{Family: sk.family, Secret: sk.secret,
			Identifier: id, IdentifierEncoded: id64, Encoding: "base64", Encoded: sk64}, sk64))
	}
	for range c.between(3, 4) {
		cr := c.next()
		fmt.Fprintf(&b, "  %s: %s\n", kebab(n.get(cr.env)), c.put64(cr))
	}
	b.WriteString("stringData:\n")
	cr := c.next()
	fmt.Fprintf(&b, "  %s: \"%s\"\n", snake(cr.env), c.put(cr))
	c.file(name, b.String())
}

func (c *corpus) helm(dir string, p project) {
	c.file(dir+"templates/secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ include \"chart.fullname\" . }}\ntype: Opaque\nstringData:\n"+
		"  password: "+c.decoy("placeholder", "{{ .Values.password }}")+"\n"+
		"  apiKey: "+c.decoy("placeholder", "{{ .Values.apiKey | quote }}")+"\n"+
		"  token: "+c.decoy("placeholder", `{{ required "token is required" .Values.token }}`)+"\n")
	var b strings.Builder
	fmt.Fprintf(&b, "replicaCount: 2\nimage:\n  repository: ghcr.io/acme/%s\n  tag: \"1.%d.%d\"\n", p.name, c.r.Intn(9), c.r.Intn(20))
	fmt.Fprintf(&b, "password: %s\napiKey: %s\n", c.decoy("placeholder", `""`), c.decoy("placeholder", "REPLACE_ME"))
	cr := c.nextSelf()
	fmt.Fprintf(&b, "token: %s\n", c.put(cr))
	fmt.Fprintf(&b, "podAnnotations:\n  checksum/config: %s\n", c.decoy("hash", c.str(64, hexl)))
	fmt.Fprintf(&b, "serviceAccount:\n  name: %s\n  annotations:\n    iam.gke.io/tenant: %s\n", p.name, c.decoy("uuid", c.uuid()))
	c.file(dir+"values.yaml", b.String())
}

func (c *corpus) workflow(name string, p project, aws bool) {
	var b strings.Builder
	n := names{}
	fmt.Fprintf(&b, "name: deploy\non:\n  push:\n    branches: [main]\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    env:\n      SERVICE: %s\n", p.name)
	if aws {
		id, sk := c.awsPair("AKIA")
		fmt.Fprintf(&b, "      AWS_ACCESS_KEY_ID: %s\n      AWS_SECRET_ACCESS_KEY: %s\n", id, c.put(sk))
	}
	for range c.between(2, 3) {
		cr := c.next()
		fmt.Fprintf(&b, "      %s: %s\n", n.get(cr.env), c.put(cr))
	}
	fmt.Fprintf(&b, "      STRIPE_SECRET_KEY: %s\n", c.decoy("placeholder", "${{ secrets.STRIPE_SECRET_KEY }}"))
	fmt.Fprintf(&b, "    steps:\n      - uses: actions/checkout@%s # v4\n", c.decoy("git-sha", c.str(40, hexl)))
	b.WriteString("      - uses: docker/login-action@v3\n        with:\n          registry: ghcr.io\n          username: acme-bot\n")
	cr := c.nextSelf()
	fmt.Fprintf(&b, "          password: %s\n", c.put(cr))
	b.WriteString("      - run: make deploy\n")
	c.file(name, b.String())
}

func (c *corpus) dockerfile(name string, p project) {
	var b strings.Builder
	fmt.Fprintf(&b, "FROM golang:1.22@sha256:%s AS build\nWORKDIR /src\nCOPY . .\n", c.decoy("hash", c.str(64, hexl)))
	cr := c.next()
	fmt.Fprintf(&b, "ARG %s=%s\n", cr.env, c.put(cr))
	fmt.Fprintf(&b, "RUN curl -fsSLo /tmp/tool.tgz https://example.com/tool-1.4.2.tgz \\\n && echo \"%s  /tmp/tool.tgz\" | sha256sum -c -\n", c.decoy("hash", c.str(64, hexl)))
	b.WriteString("RUN make build\n\nFROM gcr.io/distroless/base-debian12\n")
	cr = c.next()
	fmt.Fprintf(&b, "ENV %s=\"%s\"\n", cr.env, c.put(cr))
	fmt.Fprintf(&b, "COPY --from=build /src/bin/%s /app\nENTRYPOINT [\"/app\"]\n", p.name)
	c.file(name, b.String())
}

func (c *corpus) deployScript(name string, p project, aws bool) {
	var b strings.Builder
	n := names{}
	b.WriteString("#!/usr/bin/env bash\nset -euo pipefail\n\n")
	if aws {
		id, sk := c.awsPair("ASIA")
		st := c.sessionToken()
		fmt.Fprintf(&b, "export AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\nexport AWS_SESSION_TOKEN=%s\n", id, c.put(sk), c.put(st))
	}
	for range c.between(1, 2) {
		cr := c.next()
		fmt.Fprintf(&b, "export %s='%s'\n", n.get(cr.env), c.put(cr))
	}
	b.WriteString("\necho \"deploying " + p.name + "\"\n")
	cr := c.nextSelf()
	fmt.Fprintf(&b, "curl -fsS -X POST -H \"Authorization: Bearer %s\" \\\n  https://api.acme.io/v1/deploys -d '{\"service\":\"%s\"}'\n", c.put(cr), p.name)
	pw := c.password()
	fmt.Fprintf(&b, "mysql -h db.acme.internal -u deploy --password='%s' -e 'SELECT 1'\n", c.put(cred{family: "generic", secret: pw, text: pw}))
	fmt.Fprintf(&b, "git tag -a v1.2.3 %s -m release\n", c.decoy("git-sha", c.str(40, hexl)))
	c.file(name, b.String())
}

func (c *corpus) readme(name string, p project) {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\nService of the Acme platform.\n\n## Running locally\n\n```sh\ncp .env.example .env\nmake run\n```\n\n", p.name)
	fmt.Fprintf(&b, "Configure AWS with the documentation's example keys first:\n\n```ini\naws_access_key_id = %s\naws_secret_access_key = %s\n```\n\n",
		c.decoy("aws-example", "AKIAIOSFODNN7EXAMPLE"), c.decoy("aws-example", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"))
	cr := c.nextSelf()
	fmt.Fprintf(&b, "Smoke test against staging (token from the team vault):\n\n```sh\ncurl -H \"Authorization: Bearer %s\" https://staging.acme.io/healthz\n```\n\n", c.put(cr))
	fmt.Fprintf(&b, "Set `API_KEY` to %s and `WEBHOOK_SECRET` to %s.\n\n", c.decoy("placeholder", "<your-api-key>"), c.decoy("placeholder", "YOUR_WEBHOOK_SECRET_HERE"))
	fmt.Fprintf(&b, "Tenant ID for the dev directory: `%s`.\n", c.decoy("uuid", c.uuid()))
	c.file(name, b.String())
}

func (c *corpus) changelog(name string) {
	var b strings.Builder
	b.WriteString("# Changelog\n\n")
	for v := c.between(3, 6); v > 0; v-- {
		fmt.Fprintf(&b, "## 1.%d.0\n\n", v)
		fmt.Fprintf(&b, "- Fix retry loop on 503 (%s)\n", c.decoy("git-sha", c.str(40, hexl)))
		fmt.Fprintf(&b, "- Bump dependencies, see commit %s\n", c.decoy("git-sha", c.str(c.shaLen(), hexl)))
		fmt.Fprintf(&b, "- Migration %s adds the `password_reset_tokens` table\n\n", c.decoy("uuid", c.uuid()))
	}
	c.file(name, b.String())
}

func (c *corpus) shaLen() int { return []int{7, 12, 40}[c.r.Intn(3)] }

func (c *corpus) pythonSettings(name string, aws bool) {
	var b strings.Builder
	b.WriteString("import os\n\nDEBUG = False\nALLOWED_HOSTS = [\"api.acme.io\"]\n\n")
	pw := c.password()
	fmt.Fprintf(&b, "SECRET_KEY = \"%s\"\n\n", c.put(cred{family: "generic", secret: pw, text: pw}))
	pw = c.password()
	fmt.Fprintf(&b, "DATABASES = {\n    \"default\": {\n        \"ENGINE\": \"django.db.backends.postgresql\",\n        \"NAME\": \"billing\",\n        \"USER\": \"billing\",\n        \"PASSWORD\": \"%s\",\n        \"HOST\": \"db.acme.internal\",\n    }\n}\n\n",
		c.put(cred{family: "generic", secret: pw, text: pw}))
	for range c.between(2, 3) {
		cr := c.next()
		fmt.Fprintf(&b, "%s = \"%s\"\n", cr.env, c.put(cr))
	}
	fmt.Fprintf(&b, "EMAIL_HOST_PASSWORD = %s\n", c.decoy("env-reference", `os.environ["EMAIL_HOST_PASSWORD"]`))
	fmt.Fprintf(&b, "PASSWORD_HASHERS = [%s]\n", c.decoy("keyword-no-secret", `"django.contrib.auth.hashers.Argon2PasswordHasher"`))
	if aws {
		id, sk := c.awsPair("AKIA")
		fmt.Fprintf(&b, "\nimport boto3\n\ns3 = boto3.client(\n    \"s3\",\n    aws_access_key_id=\"%s\",\n    aws_secret_access_key=\"%s\",\n)\n", id, c.put(sk))
	}
	c.file(name, b.String())
}

func (c *corpus) iniFile(name string) {
	var b strings.Builder
	b.WriteString("[server]\nhost = 0.0.0.0\nport = 8000\n\n[database]\nhost = db.acme.internal\nuser = app\n")
	pw := c.password()
	fmt.Fprintf(&b, "password = %s\n\n[integrations]\n", c.put(cred{family: "generic", secret: pw, text: pw}))
	for range c.between(2, 3) {
		cr := c.next()
		fmt.Fprintf(&b, "%s = %s\n", snake(cr.env), c.put(cr))
	}
	fmt.Fprintf(&b, "\n[auth]\ntoken_ttl = %s\npassword_field = %s\n", c.decoy("keyword-no-secret", "3600"), c.decoy("keyword-no-secret", "password"))
	c.file(name, b.String())
}

// gcpServiceAccount is a service-account key file: the private key is a
// JSON string with \n escapes.
func (c *corpus) gcpServiceAccount(name, proj string) {
	k := rsaPEM(c.rsaKey(2048), true)
	keyID := c.str(40, hexl)
	client := c.str(21, digits)
	email := fmt.Sprintf("%s-deployer@acme-%s.iam.gserviceaccount.com", proj, c.str(6, lower+digits))
	l := Label{Family: "gcp-service-account", Secret: strings.TrimSuffix(k, "\n"), Identifier: keyID}
	c.file(name, fmt.Sprintf(`{
  "type": "service_account",
  "project_id": "acme-%s",
  "private_key_id": "%s",
  "private_key": "%s",
  "client_email": "%s",
  "client_id": "%s",
  "auth_uri": "https://accounts.google.com/o/oauth2/auth",
  "token_uri": "https://oauth2.googleapis.com/token",
  "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
  "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/%s",
  "universe_domain": "googleapis.com"
}
`, proj, keyID, c.putEscaped(l, k, false), email, client, strings.ReplaceAll(email, "@", "%40")))
}

func (c *corpus) tsConfig(name string, pemKey bool) {
	var b strings.Builder
	b.WriteString("// Runtime configuration.\nexport const config = {\n  port: Number(process.env.PORT ?? 3000),\n")
	for range c.between(3, 4) {
		cr := c.next()
		fmt.Fprintf(&b, "  %s: \"%s\",\n", camel(cr.env), c.put(cr))
	}
	fmt.Fprintf(&b, "  stripeKey: %s,\n", c.decoy("env-reference", "process.env.STRIPE_SECRET_KEY"))
	fmt.Fprintf(&b, "  sessionSecret: %s,\n", c.decoy("env-reference", `process.env.SESSION_SECRET || ""`))
	fmt.Fprintf(&b, "  requestId: \"%s\",\n", c.decoy("uuid", c.uuid()))
	b.WriteString("};\n")
	cr := c.nextSelf()
	fmt.Fprintf(&b, "\nexport const mapsUrl = `https://maps.googleapis.com/maps/api/js?key=%s&libraries=places`;\n", c.put(tok("google-api-key", "", "AIza"+c.body(35, urlsafe))))
	fmt.Fprintf(&b, "export const analyticsToken = '%s';\n", c.put(cr))
	if pemKey {
		k := ecPEM(c.ecKey())
		fmt.Fprintf(&b, "\nexport const signingKey = \"%s\";\n", c.putEscaped(Label{Family: "", Secret: strings.TrimSuffix(k, "\n")}, k, false))
	}
	c.file(name, b.String())
}

func (c *corpus) jsonConfig(name string, p project) {
	var b strings.Builder
	fmt.Fprintf(&b, "{\n  \"service\": \"%s\",\n  \"port\": 3000,\n  \"integrations\": {\n", p.name)
	for range c.between(2, 3) {
		cr := c.next()
		fmt.Fprintf(&b, "    \"%s\": \"%s\",\n", camel(cr.env), c.put(cr))
	}
	// PHP's json_encode and some serializers escape slashes
	hook := c.make(c.pick("slack-webhook", "discord-webhook"))
	fmt.Fprintf(&b, "    \"alertWebhook\": \"%s\"\n  },\n", c.putEscaped(Label{Family: hook.family, Secret: hook.secret, Identifier: hook.id}, hook.text, true))
	fmt.Fprintf(&b, "  \"traceId\": \"%s\",\n  \"passwordPolicy\": { \"minLength\": 12, \"requireSymbols\": true }\n}\n", c.decoy("uuid", c.uuid()))
	c.file(name, b.String())
}

func (c *corpus) npmrc(name string, user bool) {
	var b strings.Builder
	t := c.checksummed("npm_")
	fmt.Fprintf(&b, "registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=%s\n", c.put(tok("npm-token", "", t)))
	if user {
		g := c.checksummed("ghp_")
		fmt.Fprintf(&b, "@acme:registry=https://npm.pkg.github.com\n//npm.pkg.github.com/:_authToken=%s\n", c.put(tok("github-pat", "", g)))
	}
	b.WriteString("save-exact=true\n")
	c.file(name, b.String())
}

func (c *corpus) packageLock(name string) {
	var b strings.Builder
	b.WriteString("{\n  \"name\": \"app\",\n  \"lockfileVersion\": 3,\n  \"requires\": true,\n  \"packages\": {\n")
	pkgs := []string{"express", "lodash", "axios", "debug", "ms", "qs", "cookie", "jsonwebtoken"}
	for i, p := range pkgs {
		fmt.Fprintf(&b, "    \"node_modules/%s\": {\n      \"version\": \"%d.%d.%d\",\n      \"resolved\": \"https://registry.npmjs.org/%s/-/%s-1.0.0.tgz\",\n      \"integrity\": \"sha512-%s\"\n    }",
			p, c.between(1, 9), c.r.Intn(20), c.r.Intn(30), p, p, c.decoy("lockfile-hash", base64.StdEncoding.EncodeToString(c.bytes(64))))
		if i < len(pkgs)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("  }\n}\n")
	c.file(name, b.String())
}

func (c *corpus) yarnLock(name string) {
	var b strings.Builder
	b.WriteString("# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.\n# yarn lockfile v1\n\n")
	for _, p := range []string{"chalk", "commander", "semver", "uuid", "yargs"} {
		fmt.Fprintf(&b, "%s@^1.0.0:\n  version \"1.2.3\"\n  resolved \"https://registry.yarnpkg.com/%s/-/%s-1.2.3.tgz#%s\"\n  integrity sha512-%s\n\n",
			p, p, p, c.decoy("lockfile-hash", c.str(40, hexl)), c.decoy("lockfile-hash", base64.StdEncoding.EncodeToString(c.bytes(64))))
	}
	c.file(name, b.String())
}

func (c *corpus) nodeTest(name string) {
	c.file(name, "const assert = require('node:assert');\nconst { parseToken } = require('../src/auth');\n\n"+
		"// tokens whose checksum is wrong must be rejected\n"+
		"const badToken = '"+c.decoy("bad-checksum", c.badChecksum("ghp_"))+"';\n"+
		"const badNpm = '"+c.decoy("bad-checksum", c.badChecksum("npm_"))+"';\n"+
		"assert.throws(() => parseToken(badToken));\nassert.throws(() => parseToken(badNpm));\n"+
		"const placeholder = '"+c.decoy("placeholder", "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")+"';\n")
}

func (c *corpus) goConfig(name string) {
	var b strings.Builder
	b.WriteString("package config\n\nimport \"os\"\n\n// Defaults used when the environment has nothing.\nconst (\n")
	for range c.between(2, 3) {
		cr := c.next()
		fmt.Fprintf(&b, "\tdefault%s = \"%s\"\n", strings.ToUpper(camel(cr.env)[:1])+camel(cr.env)[1:], c.put(cr))
	}
	b.WriteString(")\n\n")
	k := ecPEM(c.ecKey())
	fmt.Fprintf(&b, "// signingKey signs session cookies.\nvar signingKey = []byte(`%s`)\n\n", c.putPEM("", k, ""))
	fmt.Fprintf(&b, "func Token() string {\n\tif t := %s; t != \"\" {\n\t\treturn t\n\t}\n\treturn defaultToken\n}\n\n", c.decoy("env-reference", `os.Getenv("GITHUB_TOKEN")`))
	cr := c.nextSelf()
	fmt.Fprintf(&b, "const defaultToken = \"%s\"\n", c.put(cr))
	c.file(name, b.String())
}

func (c *corpus) yamlConfig(name string, p project) {
	var b strings.Builder
	fmt.Fprintf(&b, "service: %s\nserver:\n  addr: \":8080\"\n  read_timeout: 5s\nintegrations:\n", p.name)
	for range c.between(3, 4) {
		c.fill(&b, yamlFill, 0, 1)
		cr := c.next()
		fmt.Fprintf(&b, "  %s: %s\n", snake(cr.env), c.put(cr))
	}
	fmt.Fprintf(&b, "auth:\n  api_key_header: %s\n  secret_name: %s\n", c.decoy("keyword-no-secret", "X-Api-Key"), c.decoy("keyword-no-secret", p.name+"-secrets"))
	fmt.Fprintf(&b, "  token_url: %s\n", c.decoy("keyword-no-secret", "https://oauth2.googleapis.com/token"))
	c.file(name, b.String())
}

func (c *corpus) goSum(name string) {
	var b strings.Builder
	for _, m := range []string{"github.com/google/uuid v1.6.0", "golang.org/x/sys v0.30.0", "golang.org/x/text v0.22.0", "gopkg.in/yaml.v3 v3.0.1", "github.com/stretchr/testify v1.9.0"} {
		fmt.Fprintf(&b, "%s h1:%s\n", m, c.decoy("lockfile-hash", base64.StdEncoding.EncodeToString(c.bytes(32))))
		fmt.Fprintf(&b, "%s/go.mod h1:%s\n", m, c.decoy("lockfile-hash", base64.StdEncoding.EncodeToString(c.bytes(32))))
	}
	c.file(name, b.String())
}

func (c *corpus) goTest(name string) {
	c.file(name, "package config\n\nimport \"testing\"\n\n"+
		"func TestRejectsBadChecksum(t *testing.T) {\n"+
		"\tfor _, tok := range []string{\n"+
		"\t\t\""+c.decoy("bad-checksum", c.badChecksum("ghp_"))+"\",\n"+
		"\t\t\""+c.decoy("bad-checksum", c.badChecksum(c.pick("gho_", "ghs_")))+"\",\n"+
		"\t\t\""+c.decoy("bad-checksum", c.badChecksum("npm_"))+"\",\n"+
		"\t} {\n\t\tif valid(tok) {\n\t\t\tt.Errorf(\"%s accepted\", tok)\n\t\t}\n\t}\n}\n\n"+
		"const requestID = \""+c.decoy("uuid", c.uuid())+"\"\n"+
		"const password = \""+c.decoy("placeholder", "changeme")+"\"\n")
}

func (c *corpus) properties(name string, aws bool) {
	var b strings.Builder
	b.WriteString("spring.application.name=inventory\nserver.port=8080\nspring.datasource.url=jdbc:postgresql://db.acme.internal:5432/app\nspring.datasource.username=app\n")
	pw := c.password()
	fmt.Fprintf(&b, "spring.datasource.password=%s\n", c.put(cred{family: "generic", secret: pw, text: pw}))
	if aws {
		id, sk := c.awsPair("AKIA")
		fmt.Fprintf(&b, "cloud.aws.credentials.access-key=%s\ncloud.aws.credentials.secret-key=%s\n", id, c.put(sk))
	}
	for range c.between(2, 3) {
		cr := c.next()
		fmt.Fprintf(&b, "%s=%s\n", dotted(cr.env), c.put(cr))
	}
	fmt.Fprintf(&b, "app.mail.password=%s\nmanagement.endpoints.web.exposure.include=health\n", c.decoy("env-reference", "${MAIL_PASSWORD}"))
	c.file(name, b.String())
}

func (c *corpus) springYAML(name string) {
	var b strings.Builder
	b.WriteString("spring:\n  rabbitmq:\n    host: mq.acme.internal\n")
	fmt.Fprintf(&b, "    password: \"%s\"\nintegrations:\n", c.put(cred{family: "generic", secret: c.password()}.withText()))
	for range c.between(1, 2) {
		cr := c.next()
		fmt.Fprintf(&b, "  %s: \"%s\"\n", kebab(cr.env), c.put(cr))
	}
	fmt.Fprintf(&b, "  password-reset-url: %s\n", c.decoy("keyword-no-secret", "https://acme.io/reset"))
	c.file(name, b.String())
}

func (cr cred) withText() cred { cr.text = cr.secret; return cr }

func (c *corpus) xmlConfig(name string, p project) {
	var b strings.Builder
	pw := c.password()
	fmt.Fprintf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<configuration>\n  <connectionStrings>\n    <add name=\"Default\" connectionString=\"Server=db.acme.internal;Database=%s;User Id=app;Password=%s;\" />\n  </connectionStrings>\n  <appSettings>\n",
		p.name, c.put(cred{family: "generic", secret: pw, text: pw}))
	for range c.between(2, 3) {
		cr := c.next()
		fmt.Fprintf(&b, "    <add key=\"%s\" value=\"%s\" />\n", camel(cr.env), c.put(cr))
	}
	fmt.Fprintf(&b, "    <add key=\"ApiKeyHeader\" value=\"%s\" />\n  </appSettings>\n</configuration>\n", c.decoy("keyword-no-secret", "X-Api-Key"))
	c.file(name, b.String())
}

func (c *corpus) infra() {
	// Terraform
	var b strings.Builder
	id, sk := c.awsPair("AKIA")
	fmt.Fprintf(&b, "provider \"aws\" {\n  region     = \"eu-west-1\"\n  access_key = \"%s\"\n  secret_key = \"%s\"\n}\n\n", id, c.put(sk))
	cr := c.next()
	fmt.Fprintf(&b, "provider \"datadog\" {\n  api_key = \"%s\"\n  app_key = \"%s\"\n}\n\n",
		c.put(tok("datadog-api-key", "", c.str(32, hexl))), c.put(tok("datadog-app-key", "", c.str(40, hexl))))
	fmt.Fprintf(&b, "provider \"cloudflare\" {\n  api_token = \"%s\"\n}\n\n", c.put(tok("cloudflare-api-token", "", c.body(40, urlsafe))))
	fmt.Fprintf(&b, "variable \"%s\" {\n  type      = string\n  sensitive = true\n  default   = \"%s\"\n}\n\n", snake(cr.env), c.put(cr))
	k := rsaPEM(c.rsaKey(2048), false)
	fmt.Fprintf(&b, "resource \"aws_key_pair\" \"deploy\" {\n  key_name   = \"deploy\"\n  public_key = \"%s\"\n}\n\n", c.decoy("ssh-public-key", sshRSAPublic(c.rsaPub(), "deploy@acme")))
	fmt.Fprintf(&b, "locals {\n  bastion_key = <<-EOT\n    %s\n  EOT\n}\n", c.putPEM("", k, "    "))
	fmt.Fprintf(&b, "\nresource \"random_password\" \"db\" {\n  length  = %s\n  special = true\n}\n", c.decoy("keyword-no-secret", "32"))
	c.file("infra/terraform/main.tf", b.String())

	b.Reset()
	for range 4 {
		cr := c.next()
		fmt.Fprintf(&b, "%s = \"%s\"\n", snake(cr.env), c.put(cr))
	}
	fmt.Fprintf(&b, "tenant_id = \"%s\"\nsubscription_id = \"%s\"\n", c.decoy("uuid", c.uuid()), c.decoy("uuid", c.uuid()))
	c.file("infra/terraform/terraform.tfvars", b.String())

	// Ansible
	b.Reset()
	b.WriteString("[web]\n")
	for i := range 3 {
		pw := c.password()
		fmt.Fprintf(&b, "web%d.acme.internal ansible_user=deploy ansible_password=%s\n", i+1, c.put(cred{family: "generic", secret: pw, text: pw}))
	}
	b.WriteString("\n[db]\ndb1.acme.internal ansible_user=postgres\n")
	c.file("infra/ansible/inventory.ini", b.String())
	b.Reset()
	b.WriteString("---\nntp_server: time.acme.internal\n")
	for range 3 {
		cr := c.next()
		fmt.Fprintf(&b, "%s: \"%s\"\n", snake(cr.env), c.put(cr))
	}
	fmt.Fprintf(&b, "vault_password_file: %s\n", c.decoy("keyword-no-secret", "~/.vault_pass.txt"))
	c.file("infra/ansible/group_vars/all.yml", b.String())

	// cluster manifests
	tlsKey := rsaPEM(c.rsaKey(2048), true)
	cert := c.certificatePEM("api.acme.io")
	c.file("infra/k8s/tls-secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: api-tls\n  namespace: ingress\ntype: kubernetes.io/tls\ndata:\n"+
		"  tls.crt: "+c.decoy("certificate", base64.StdEncoding.EncodeToString([]byte(cert)))+"\n"+
		"  tls.key: "+c.plant(Label{Family: "", Secret: strings.TrimSuffix(tlsKey, "\n"), Encoding: "base64",
		Encoded: base64.StdEncoding.EncodeToString([]byte(tlsKey))}, base64.StdEncoding.EncodeToString([]byte(tlsKey)))+"\n")

	dk := c.checksummed("ghp_")
	auth := base64.StdEncoding.EncodeToString([]byte("acme-bot:" + dk))
	dcj := fmt.Sprintf(`{"auths":{"ghcr.io":{"username":"acme-bot","password":"%s","auth":"%s"}}}`, dk, auth)
	dcj64 := base64.StdEncoding.EncodeToString([]byte(dcj))
	c.file("infra/k8s/registry-secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: ghcr-pull\ntype: kubernetes.io/dockerconfigjson\ndata:\n"+
		"  .dockerconfigjson: "+c.plant(Label{Family: "github-pat", Secret: dk, Encoding: "base64", Encoded: dcj64}, dcj64)+"\n")

	var cm strings.Builder
	cm.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\ndata:\n  LOG_LEVEL: info\n")
	fmt.Fprintf(&cm, "  PASSWORD: %s\n  API_KEY: %s\n", c.decoy("placeholder", "changeme"), c.decoy("placeholder", "xxxxxxxxxxxxxxxx"))
	cr = c.next()
	fmt.Fprintf(&cm, "  %s: \"%s\"\n", cr.env, c.put(cr))
	fmt.Fprintf(&cm, "  app.pem: |\n    %s\n", c.decoy("public-key-pem", strings.ReplaceAll(strings.TrimSuffix(publicKeyPEM(c.rsaPub()), "\n"), "\n", "\n    ")))
	c.file("infra/k8s/configmap.yaml", cm.String())

	// certificates
	c.file("infra/certs/server.key", c.putPEM("", rsaPEM(c.rsaKey(2048), true), "")+"\n")
	c.file("infra/certs/server.crt", c.decoy("certificate", c.certificatePEM("www.acme.io")))
	c.file("infra/certs/ec.key", c.putPEM("", ecPEM(c.ecKey()), "")+"\n")
	c.file("infra/certs/jwt-public.pem", c.decoy("public-key-pem", publicKeyPEM(c.rsaPub())))
	c.file("infra/certs/chain.pem", c.decoy("certificate", c.certificatePEM("acme.io"))+c.decoy("certificate", c.certificatePEM("Acme Intermediate CA")))

	// GCP
	c.gcpServiceAccount("infra/gcp/terraform-sa.json", "terraform")

	// nginx redirects carry a webhook percent-encoded in a query string
	b.Reset()
	b.WriteString("server {\n  listen 443 ssl;\n  server_name hooks.acme.io;\n")
	for range 3 {
		hook := c.make(c.pick("slack-webhook", "discord-webhook", "slack-webhook"))
		enc := percentAll(hook.text)
		fmt.Fprintf(&b, "  location /%s {\n    return 302 https://relay.acme.io/forward?target=%s&retry=3;\n  }\n", c.str(6, lower),
			c.plant(Label{Family: hook.family, Secret: hook.secret, Encoding: "percent", Encoded: percentAll(hook.secret)}, enc))
	}
	b.WriteString("}\n")
	c.file("infra/nginx/redirects.conf", b.String())

	// an access log: tokens in query strings
	b.Reset()
	for i := range 12 {
		ip := fmt.Sprintf("10.%d.%d.%d", c.r.Intn(256), c.r.Intn(256), c.r.Intn(256))
		ts := fmt.Sprintf("[12/Mar/2025:10:%02d:%02d +0000]", i*4, c.r.Intn(60))
		switch i % 4 {
		case 1:
			cr := c.make(c.pick("github-pat", "gitlab-pat", "slack-bot-token", "generic", "jwt", "databricks-token"))
			fmt.Fprintf(&b, "%s - - %s \"GET /api/v1/export?format=csv&access_token=%s HTTP/1.1\" 200 5120\n", ip, ts, c.plant(
				Label{Family: cr.family, Secret: cr.secret, Identifier: cr.id, Encoding: encIf(cr.text), Encoded: encOf(cr.secret)}, percentAll(cr.text)))
		case 3:
			fmt.Fprintf(&b, "%s - - %s \"GET /healthz?request_id=%s HTTP/1.1\" 200 2\n", ip, ts, c.decoy("uuid", c.uuid()))
		default:
			fmt.Fprintf(&b, "%s - - %s \"GET /static/app.%s.js HTTP/1.1\" 200 80211\n", ip, ts, c.str(8, hexl))
		}
	}
	c.file("infra/logs/access.log", b.String())
}

// rsaPub is the public half of a fresh key, for decoys.
func (c *corpus) rsaPub() *rsa.PublicKey { return &c.rsaKey(2048).PublicKey }

// percentAll percent-encodes everything but unreserved characters, as a
// query-string encoder does.
func percentAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if strings.IndexByte(alnum+"-_.~", ch) >= 0 {
			b.WriteByte(ch)
		} else {
			fmt.Fprintf(&b, "%%%02X", ch)
		}
	}
	return b.String()
}

func encIf(s string) string {
	if percentAll(s) != s {
		return "percent"
	}
	return ""
}

func encOf(s string) string {
	if percentAll(s) != s {
		return percentAll(s)
	}
	return ""
}

func (c *corpus) home(user string) {
	d := "home/" + user + "/"
	// AWS
	var b strings.Builder
	for _, prof := range []string{"default", "prod"} {
		id, sk := c.awsPair("AKIA")
		fmt.Fprintf(&b, "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\nregion = eu-west-1\n\n", prof, id, c.put(sk))
	}
	id, sk := c.awsPair("ASIA")
	fmt.Fprintf(&b, "[sso-session]\naws_access_key_id = %s\naws_secret_access_key = %s\naws_session_token = %s\n", id, c.put(sk), c.put(c.sessionToken()))
	c.file(d+".aws/credentials", b.String())

	c.npmrc(d+".npmrc", true)
	c.file(d+".pypirc", "[distutils]\nindex-servers =\n    pypi\n\n[pypi]\nusername = __token__\npassword = "+
		c.put(tok("pypi-token", "", "pypi-AgEIcHlwaS5vcmc"+c.pick("CJ", "CI")+c.body(c.between(140, 200), urlsafe)))+"\n")

	dt := "dckr_pat_" + c.body(27, urlsafe)
	ua := user + ":" + dt
	ua64 := base64.StdEncoding.EncodeToString([]byte(ua))
	c.file(d+".docker/config.json", "{\n\t\"auths\": {\n\t\t\"https://index.docker.io/v1/\": {\n\t\t\t\"auth\": \""+
		c.plant(Label{Family: "dockerhub-pat", Secret: dt, Encoding: "base64", Encoded: ua64}, ua64)+"\"\n\t\t}\n\t},\n\t\"credsStore\": \"\"\n}\n")

	gh, gl := c.checksummed("ghp_"), "glpat-"+c.body(20, urlsafe)
	c.file(d+".git-credentials", "https://"+user+":"+c.put(tok("github-pat", "", gh))+"@github.com\n"+
		"https://oauth2:"+c.put(tok("gitlab-pat", "", gl))+"@gitlab.com\n")
	pw := c.password()
	c.file(d+".netrc", "machine ftp.acme.io\n  login deploy\n  password "+c.put(cred{family: "generic", secret: pw, text: pw})+"\n")

	priv, pub := c.openSSHKey(user + "@laptop")
	c.file(d+".ssh/id_ed25519", c.putPEM("", priv, "")+"\n")
	c.file(d+".ssh/id_ed25519.pub", c.decoy("ssh-public-key", pub)+"\n")
	rk := c.rsaKey(2048)
	c.file(d+".ssh/id_rsa", c.putPEM("", rsaPEM(rk, false), "")+"\n")
	c.file(d+".ssh/id_rsa.pub", c.decoy("ssh-public-key", sshRSAPublic(&rk.PublicKey, user+"@laptop"))+"\n")
	_, pub2 := c.openSSHKey("ops@bastion")
	c.file(d+".ssh/authorized_keys", c.decoy("ssh-public-key", pub2)+"\n"+c.decoy("ssh-public-key", sshRSAPublic(c.rsaPub(), "ci@acme"))+"\n")

	// kubeconfig: client key base64, bearer token
	ek := ecPEM(c.ecKey())
	ek64 := base64.StdEncoding.EncodeToString([]byte(ek))
	kc := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: prod\n  cluster:\n    server: https://k8s.acme.io:6443\n    certificate-authority-data: %s\nusers:\n- name: admin\n  user:\n    client-certificate-data: %s\n    client-key-data: %s\n- name: ci\n  user:\n    token: %s\ncontexts:\n- name: prod\n  context:\n    cluster: prod\n    user: admin\ncurrent-context: prod\n",
		c.decoy("certificate", base64.StdEncoding.EncodeToString([]byte(c.certificatePEM("k8s.acme.io")))),
		c.decoy("certificate", base64.StdEncoding.EncodeToString([]byte(c.certificatePEM("admin")))),
		c.plant(Label{Family: "", Secret: strings.TrimSuffix(ek, "\n"), Encoding: "base64", Encoded: ek64}, ek64),
		c.put(tok("jwt", "", c.jwt())))
	c.file(d+".kube/config", kc)

	// shell history
	b.Reset()
	b.WriteString("ls -la\ncd ~/src/acme\ngit pull --rebase\n")
	for range 3 {
		cr := c.next()
		fmt.Fprintf(&b, "export %s=%s\n", cr.env, c.put(cr))
		b.WriteString(c.pick("make test", "git status", "docker ps", "kubectl get pods -n prod", "terraform plan") + "\n")
	}
	cr := c.nextSelf()
	fmt.Fprintf(&b, "curl -s -H 'Authorization: token %s' https://api.acme.io/v1/me\n", c.put(cr))
	fmt.Fprintf(&b, "git show %s\n", c.decoy("git-sha", c.str(40, hexl)))
	c.file(d+".bash_history", b.String())
}

func (c *corpus) docs() {
	var b strings.Builder
	b.WriteString("# Platform setup\n\n## AWS\n\nThe AWS docs use these keys in examples; they are not ours:\n\n")
	fmt.Fprintf(&b, "    export AWS_ACCESS_KEY_ID=%s\n    export AWS_SECRET_ACCESS_KEY=%s\n\n", c.decoy("aws-example", "AKIAIOSFODNN7EXAMPLE"), c.decoy("aws-example", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"))
	b.WriteString("## Alerts\n\nAlerts go to the #ops channel through this webhook:\n\n")
	cr := tok("slack-webhook", "", fmt.Sprintf("https://hooks.slack.com/services/T%s/B%s/%s", c.str(9, upper+digits), c.str(9, upper+digits), c.str(24, alnum)))
	fmt.Fprintf(&b, "    %s\n\n", c.put(cr))
	fmt.Fprintf(&b, "## API\n\nAuthenticate with `Authorization: Bearer %s`, for instance:\n\n", c.decoy("placeholder", "<token>"))
	cr = c.nextSelf()
	fmt.Fprintf(&b, "```sh\ncurl -H 'Authorization: Bearer %s' https://api.acme.io/v1/orders\n```\n\n", c.put(cr))
	fmt.Fprintf(&b, "The staging key is `%s` (rotated monthly).\n\n", c.put(c.nextSelf()))
	fmt.Fprintf(&b, "Replace `%s` with your key, and never commit `%s`.\n\n", c.decoy("placeholder", "${API_KEY}"), c.decoy("placeholder", "YOUR_API_KEY_HERE"))
	fmt.Fprintf(&b, "Fixed in %s; see also request `%s`.\n", c.decoy("git-sha", c.str(40, hexl)), c.decoy("uuid", c.uuid()))
	c.file("docs/setup.md", b.String())

	b.Reset()
	b.WriteString("# Signing keys\n\nThe public half, for verifying tokens:\n\n```\n")
	fmt.Fprintf(&b, "%s```\n\nOur CA certificate:\n\n```\n%s```\n\n", c.decoy("public-key-pem", publicKeyPEM(c.rsaPub())), c.decoy("certificate", c.certificatePEM("Acme Root CA")))
	_, pub := c.openSSHKey("release@acme")
	fmt.Fprintf(&b, "Release SSH key: `%s`\n\n", c.decoy("ssh-public-key", pub))
	fmt.Fprintf(&b, "A sample token (the service account's, valid until rotated):\n\n    %s\n", c.put(tok("jwt", "", c.jwt())))
	c.file("docs/keys.md", b.String())
}
