#!/usr/bin/env node
// Signs images the way cosign v3 does, offline, with Sigstore's own JavaScript code: @sigstore/sign builds
// the DSSE bundle (FulcioSigner for keyless, a key signer otherwise; RekorWitness for the log entry),
// @sigstore/mock's transparency log makes the Rekor entries (SET, inclusion proof, signed checkpoint)
// behind nock, and @sigstore/oci attaches the bundle to the image as an OCI referrer (the Referrers Tag
// Schema on a registry without the referrers API). One node process, no network but 127.0.0.1.
//
//   node sign.js PLAN.json
//
// PLAN: {"out": DIR, "registry": "127.0.0.1:PORT",
//        "cas": {NAME: {"notBefore": unix, "notAfter": unix}},  leaf validity (default: now .. now+10 min)
//        "rekors": [NAME...], "keys": [NAME...],
//        "jobs": [{"name", "image" (repository), "digest" (of the image: the referrer's subject),
//                  "signDigest" (the statement's subject; default digest), "subjectName" (default none),
//                  "fulcio": CA, "email", "issuer" | "key": NAME, "rekor": NAME or null,
//                  "mutate": "payload" | "signature" | "drop-tlog" | "set" | "time" | "proof" | "body",
//                  "crossCheck": verify the keyless bundle with @sigstore/verify first, "attach": true}]}
// Writes DIR/ca-NAME.pem (root and intermediate), DIR/rekor-NAME.pub, DIR/key-NAME.pub and
// DIR/key-NAME.key (PKCS#8) and DIR/JOB.bundle.json.
'use strict';

require('reflect-metadata');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const nock = require('nock');
const x509 = require('@peculiar/x509');
const asn1js = require('asn1js');
const { initializeTLog } = require('@sigstore/mock');
const { fulcioHandler } = require('@sigstore/mock');
const { DSSEBundleBuilder, FulcioSigner, RekorWitness } = require('@sigstore/sign');
const { bundleFromJSON, bundleToJSON } = require('@sigstore/bundle');
const { TrustedRoot } = require('@sigstore/protobuf-specs');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');
const { attachArtifactToImage } = require('@sigstore/oci');
const { RegistryClient } = require('@sigstore/oci/dist/registry');

// @sigstore/oci 0.6.0 expects every registry to challenge its probe (POST .../blobs/uploads/) and fails with
// "Invalid challenge" on the 202 of a registry that takes anonymous pushes, as the tests' loopback
// docker-registry does: anonymous credentials skip the sign-in.
const signIn = RegistryClient.prototype.signIn;
RegistryClient.prototype.signIn = async function (creds) {
	if (creds.username === '' && creds.password === '')
		return;
	return signIn.call(this, creds);
};

const BUNDLE_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const INTOTO = 'application/vnd.in-toto+json';
const OID_ISSUER_V1 = '1.3.6.1.4.1.57264.1.1';
const OID_ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';
const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
x509.cryptoProvider.set(crypto.webcrypto);

const plan = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const out = plan.out;

// Only the mocked services and the local registry: nothing may leave the machine.
nock.disableNetConnect();
nock.enableNetConnect(/^(127\.0\.0\.1|localhost)(:\d+)?$/);

const pem = (der, type) =>
	`-----BEGIN ${type}-----\n${Buffer.from(der).toString('base64').match(/.{1,64}/g).join('\n')}\n-----END ${type}-----\n`;

// A Fulcio-like CA: a root, an intermediate that issues the leaves (a v0.3 bundle carries the leaf only,
// so the policy's caPath holds both), leaves with the signer's e-mail SAN and the issuer extensions.
async function makeCA(name, opts) {
	const subtle = crypto.webcrypto.subtle;
	const rootKeys = await subtle.generateKey(alg, true, ['sign', 'verify']);
	const interKeys = await subtle.generateKey(alg, true, ['sign', 'verify']);
	const now = Date.now();
	const year = 365 * 24 * 3600 * 1000;
	const root = await x509.X509CertificateGenerator.createSelfSigned({
		serialNumber: '01', name: `CN=${name} root,O=ccpull test`, notBefore: new Date(now - year),
		notAfter: new Date(now + year), signingAlgorithm: alg, keys: rootKeys,
		extensions: [new x509.BasicConstraintsExtension(true, 1, true),
			new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
	});
	const inter = await x509.X509CertificateGenerator.create({
		serialNumber: '02', subject: `CN=${name} intermediate,O=ccpull test`, issuer: root.subject,
		notBefore: new Date(now - year), notAfter: new Date(now + year), signingAlgorithm: alg,
		publicKey: interKeys.publicKey, signingKey: rootKeys.privateKey,
		extensions: [new x509.BasicConstraintsExtension(true, 0, true),
			new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
			new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.codeSigning])],
	});
	fs.writeFileSync(path.join(out, `ca-${name}.pem`), pem(root.rawData, 'CERTIFICATE') + pem(inter.rawData, 'CERTIFICATE'));
	chains[name] = [Buffer.from(inter.rawData), Buffer.from(root.rawData)];
	let serial = 16;
	return {
		rootCertificate: Buffer.from(root.rawData),
		async issueCertificate({ publicKey, subjectAltName, extensions }) {
			const key = await subtle.importKey('spki', publicKey, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
			const nb = opts.notBefore !== undefined ? opts.notBefore * 1000 : Date.now() - 1000;
			const na = opts.notAfter !== undefined ? opts.notAfter * 1000 : nb + 10 * 60 * 1000;
			const iss = extensions.find((e) => e.oid === OID_ISSUER_V1).value;
			const leaf = await x509.X509CertificateGenerator.create({
				serialNumber: (serial++).toString(16).padStart(2, '0'), subject: '', issuer: inter.subject,
				notBefore: new Date(nb), notAfter: new Date(na), signingAlgorithm: alg, publicKey: key,
				signingKey: interKeys.privateKey,
				extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
					new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.codeSigning]),
					new x509.SubjectAlternativeNameExtension([{ type: 'email', value: subjectAltName }], true),
					new x509.Extension(OID_ISSUER_V1, false, Buffer.from(iss)),
					new x509.Extension(OID_ISSUER_V2, false, new asn1js.Utf8String({ value: iss }).toBER(false))],
			});
			return Buffer.from(leaf.rawData);
		},
	};
}

// Rekor v1 stores a dsse entry in its canonical form (rekor pkg/types/dsse/v0.0.1 Canonicalize: envelope and
// payload hashes, signatures with their verifiers), not as proposed; @sigstore/mock's log keeps the proposed
// form, so the entry is canonicalised here before the mock log signs it.
function canonicalDSSE(proposed) {
	if (proposed.kind !== 'dsse')
		return proposed;
	const pc = proposed.spec.proposedContent;
	const env = JSON.parse(pc.envelope);
	const hash = (b) => crypto.createHash('sha256').update(b).digest('hex');
	return {
		apiVersion: '0.0.1', kind: 'dsse',
		spec: {
			envelopeHash: { algorithm: 'sha256', value: hash(pc.envelope) },
			payloadHash: { algorithm: 'sha256', value: hash(Buffer.from(env.payload, 'base64')) },
			signatures: [{ signature: env.signatures[0].sig, verifier: pc.verifiers[0] }],
		},
	};
}

async function makeRekor(name) {
	const url = `https://rekor-${name}.ccpull.test`;
	const keyPair = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
	fs.writeFileSync(path.join(out, `rekor-${name}.pub`), keyPair.publicKey.export({ format: 'pem', type: 'spki' }));
	logs[name] = { url, der: keyPair.publicKey.export({ format: 'der', type: 'spki' }) };
	const tlog = await initializeTLog(url, keyPair);
	nock(url).persist().post('/api/v1/log/entries').reply(async (_uri, body) => {
		const proposed = typeof body === 'string' ? JSON.parse(body) : body;
		return [201, JSON.stringify(await tlog.log(canonicalDSSE(proposed))), { 'Content-Type': 'application/json' }];
	});
	return url;
}

async function makeFulcio(name, opts) {
	const url = `https://fulcio-${name}.ccpull.test`;
	const h = fulcioHandler(await makeCA(name, opts), { subjectClaim: 'email' });
	nock(url).persist().post(h.path).reply(async (_uri, body) => {
		const r = await h.fn(typeof body === 'string' ? body : JSON.stringify(body));
		return [r.statusCode, r.response, { 'Content-Type': r.contentType || 'text/plain' }];
	});
	return url;
}

const chains = {}, logs = {};

// Sigstore's own verifier (@sigstore/verify, as the sigstore package uses it) checks a keyless bundle
// against a trusted root of the test CA and log: an oracle for the signer, independent of ccpull.
function crossCheck(json, job) {
	const log = logs[job.rekor];
	const root = TrustedRoot.fromJSON({
		mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
		tlogs: [{ baseUrl: log.url, hashAlgorithm: 'SHA2_256',
			publicKey: { rawBytes: log.der.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256',
				validFor: { start: '2000-01-01T00:00:00Z' } },
			logId: { keyId: crypto.createHash('sha256').update(log.der).digest('base64') } }],
		certificateAuthorities: [{ subject: { organization: 'ccpull test', commonName: job.fulcio }, uri: 'https://ca',
			certChain: { certificates: chains[job.fulcio].map((c) => ({ rawBytes: c.toString('base64') })) },
			validFor: { start: '2000-01-01T00:00:00Z' } }],
		ctlogs: [], timestampAuthorities: [],
	});
	new Verifier(toTrustMaterial(root), { tlogThreshold: 1, ctlogThreshold: 0, timestampThreshold: 1 })
		.verify(toSignedEntity(bundleFromJSON(json)), { subjectAlternativeName: job.email, extensions: { issuer: job.issuer } });
}

// An unsigned OIDC token: the mock Fulcio reads its claims without checking a signature.
const token = (email, issuer) => {
	const b64u = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
	return `${b64u({ alg: 'none', typ: 'JWT' })}.${b64u({ iss: issuer, sub: email, email, email_verified: true, aud: 'sigstore' })}.`;
};

function keySigner(name) {
	const file = path.join(out, `key-${name}.pub`);
	if (!keys[name]) {
		keys[name] = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
		fs.writeFileSync(file, keys[name].publicKey.export({ format: 'pem', type: 'spki' }));
		// The private key too, for the legacy .sig signer of the tests (cosign_sign.py).
		fs.writeFileSync(path.join(out, `key-${name}.key`), keys[name].privateKey.export({ format: 'pem', type: 'pkcs8' }));
	}
	const k = keys[name];
	return {
		async sign(data) {
			return { signature: crypto.sign('sha256', data, k.privateKey),
				key: { $case: 'publicKey', publicKey: k.publicKey.export({ format: 'pem', type: 'spki' }).toString() } };
		},
	};
}
const keys = {};

function mutate(json, how) {
	const flip = (b64) => { const b = Buffer.from(b64, 'base64'); b[b.length - 1] ^= 1; return b.toString('base64'); };
	const t = json.verificationMaterial.tlogEntries;
	switch (how) {
	case 'payload': {
		const st = JSON.parse(Buffer.from(json.dsseEnvelope.payload, 'base64'));
		st.predicate = { tampered: true };
		json.dsseEnvelope.payload = Buffer.from(JSON.stringify(st)).toString('base64');
		break;
	}
	case 'signature': json.dsseEnvelope.signatures[0].sig = flip(json.dsseEnvelope.signatures[0].sig); break;
	case 'drop-tlog': json.verificationMaterial.tlogEntries = []; break;
	case 'set': t[0].inclusionPromise.signedEntryTimestamp = flip(t[0].inclusionPromise.signedEntryTimestamp); break;
	case 'time': t[0].integratedTime = String(Number(t[0].integratedTime) - 1); break;
	case 'proof': t[0].inclusionProof.rootHash = flip(t[0].inclusionProof.rootHash); break;
	case 'body': {
		const body = JSON.parse(Buffer.from(t[0].canonicalizedBody, 'base64'));
		body.spec.payloadHash.value = crypto.createHash('sha256').update('another payload').digest('hex');
		t[0].canonicalizedBody = Buffer.from(JSON.stringify(body)).toString('base64');
		break;
	}
	case undefined: case null: break;
	default: throw new Error(`unknown mutation ${how}`);
	}
	return json;
}

async function main() {
	fs.mkdirSync(out, { recursive: true });
	const fulcios = {}, rekors = {};
	for (const [name, opts] of Object.entries(plan.cas || {}))
		fulcios[name] = await makeFulcio(name, opts);
	for (const name of plan.rekors || [])
		rekors[name] = await makeRekor(name);
	for (const name of plan.keys || [])
		keySigner(name);
	for (const job of plan.jobs) {
		const signer = job.fulcio
			? new FulcioSigner({ fulcioBaseURL: fulcios[job.fulcio],
				identityProvider: { getToken: async () => token(job.email, job.issuer) } })
			: keySigner(job.key);
		const witnesses = job.rekor ? [new RekorWitness({ rekorBaseURL: rekors[job.rekor], entryType: 'dsse' })] : [];
		const subject = { digest: { sha256: (job.signDigest || job.digest).replace(/^sha256:/, '') } };
		if (job.subjectName)
			subject.name = job.subjectName;
		// cosign v3's statement (cmd/cosign/cli/sign/sign.go): one subject, its digest, no name.
		const statement = { _type: 'https://in-toto.io/Statement/v1', subject: [subject],
			predicateType: 'https://sigstore.dev/cosign/sign/v1', predicate: {} };
		const bundle = await new DSSEBundleBuilder({ signer, witnesses })
			.create({ data: Buffer.from(JSON.stringify(statement)), type: INTOTO });
		const json = mutate(bundleToJSON(bundle), job.mutate);
		if (job.crossCheck)
			crossCheck(json, job);
		const bytes = Buffer.from(JSON.stringify(json));
		fs.writeFileSync(path.join(out, `${job.name}.bundle.json`), bytes);
		if (job.attach !== false) {
			await attachArtifactToImage({
				imageName: `${plan.registry}/${job.image}`, imageDigest: job.digest, artifact: bytes,
				mediaType: BUNDLE_TYPE, credentials: { username: '', password: '' },
				annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope',
					'dev.sigstore.bundle.predicateType': 'https://sigstore.dev/cosign/sign/v1' },
			});
		}
	}
}

main().catch((e) => {
	process.stderr.write(`sign.js: ${e.stack || e}\n${e.cause ? `cause: ${e.cause.stack || e.cause}\n` : ""}`);
	process.exit(1);
});
