// Validates the Kubernetes manifests under deploy/kubernetes (or the directory given as the first
// argument), without a cluster:
//  1. every document is checked against the Kubernetes API schema that kubernetes-models ships
//     (types, enums, required fields), and its kind must be one kubernetes-models knows;
//  2. fields that the API does not know are rejected too. The schema check above lets them
//     through, but kubectl would drop or refuse them, so a typo such as `readinesProbe` would
//     silently remove a probe. Field names come from the type declarations (.d.ts) of the same
//     kubernetes-models version;
//  3. the gateway's own deployment rules (see checkGateway).
// Prints one line per document and exits 1 if anything failed.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

const here = path.dirname(fileURLToPath(import.meta.url));
const manifestDir = path.resolve(process.argv[2] ?? path.join(here, "../../deploy/kubernetes"));

// ---------------------------------------------------------------------------------------------
// Known fields, from kubernetes-models' .d.ts files. A small reader for the subset of TypeScript
// they use: imports, `export { A as B }`, type aliases and interfaces whose members are
// primitives, string literals, unions, Array<T>, index signatures and references. Anything else
// is an error, so a format change in a new kubernetes-models version fails loudly instead of
// letting every field through.

const declarationFiles = new Map();  // .d.ts path -> { imports, aliases, interfaces }
const primitives = new Set(["string", "number", "boolean", "any", "unknown", "object", "null",
  "undefined", "true", "false", "never"]);

function tokenize(text) {
  const tokens = [];
  const re = /\s*(?:("(?:[^"\\]|\\.)*")|([A-Za-z_$][\w$]*)|(-?\d+(?:\.\d+)?)|(\S))/y;
  let match;
  while (re.lastIndex < text.length && (match = re.exec(text)) !== null) {
    if (match[1] !== undefined) tokens.push({ type: "string", value: JSON.parse(match[1]) });
    else if (match[2] !== undefined) tokens.push({ type: "ident", value: match[2] });
    else if (match[3] !== undefined) tokens.push({ type: "number", value: match[3] });
    else if (match[4] !== undefined) tokens.push({ type: "punct", value: match[4] });
  }
  return tokens;
}

class TypeParser {
  constructor(text, where) {
    this.tokens = tokenize(text);
    this.pos = 0;
    this.where = where;
  }
  peek(value) {
    const token = this.tokens[this.pos];
    return token !== undefined && (value === undefined || token.value === value) ? token : null;
  }
  take(value) {
    const token = this.tokens[this.pos];
    if (token === undefined || (value !== undefined && token.value !== value)) {
      throw new Error(`${this.where}: cannot read type declaration near token ${this.pos}` +
        ` (${token ? JSON.stringify(token.value) : "end"}), expected ${value ?? "more"}`);
    }
    this.pos++;
    return token;
  }
  type() {
    this.peek("|") && this.take("|");
    const members = [this.postfix()];
    while (this.peek("|")) {
      this.take("|");
      members.push(this.postfix());
    }
    return members.length === 1 ? members[0] : { kind: "union", members };
  }
  postfix() {
    let type = this.primary();
    while (this.peek("[") && this.tokens[this.pos + 1]?.value === "]") {
      this.take("[");
      this.take("]");
      type = { kind: "array", of: type };
    }
    return type;
  }
  primary() {
    const token = this.take();
    if (token.type === "string" || token.type === "number") return { kind: "primitive" };
    if (token.value === "(") {
      const inner = this.type();
      this.take(")");
      return inner;
    }
    if (token.value === "{") return this.objectBody();
    if (token.type !== "ident") this.take("a type");  // throws
    if (primitives.has(token.value)) return { kind: "primitive" };
    if (token.value === "Array") {
      this.take("<");
      const of = this.type();
      this.take(">");
      return { kind: "array", of };
    }
    if (this.peek("<")) this.take("generic arguments");  // throws: not used by the models
    return { kind: "ref", name: token.value };
  }
  // After "{": members up to and including the closing "}".
  objectBody() {
    const props = new Map();
    let index = null;
    while (!this.peek("}")) {
      if (this.peek("[")) {
        this.take("[");
        this.take();  // key name
        this.take(":");
        this.type();  // key type
        this.take("]");
        this.take(":");
        index = this.type();
      } else {
        const name = this.take().value;
        this.peek("?") && this.take("?");
        this.take(":");
        props.set(name, this.type());
      }
      while (this.peek(";") || this.peek(",")) this.take();
    }
    this.take("}");
    return { kind: "object", props, index };
  }
}

function packageTypesFile(specifier, fromFile) {
  const parts = specifier.split("/");
  const name = specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
  const subpath = "." + specifier.slice(name.length);
  for (let dir = path.dirname(fromFile); ; dir = path.dirname(dir)) {
    const root = path.join(dir, "node_modules", name);
    if (existsSync(path.join(root, "package.json"))) {
      let exportsMap = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")).exports;
      if (exportsMap && !Object.keys(exportsMap).some((key) => key.startsWith("."))) {
        exportsMap = { ".": exportsMap };  // conditions only: the package's main entry
      }
      for (const [key, target] of Object.entries(exportsMap ?? {})) {
        const star = key.indexOf("*");
        if (key === subpath && target.types) return path.join(root, target.types);
        if (star >= 0 && subpath.startsWith(key.slice(0, star)) &&
            subpath.endsWith(key.slice(star + 1)) && target.types) {
          const middle = subpath.slice(star, subpath.length - (key.length - star - 1));
          return path.join(root, target.types.replace("*", middle));
        }
      }
      throw new Error(`${fromFile}: no type declarations exported for ${specifier}`);
    }
    if (dir === path.dirname(dir)) throw new Error(`${fromFile}: cannot find package ${name}`);
  }
}

function loadDeclarations(file) {
  if (declarationFiles.has(file)) return declarationFiles.get(file);
  const text = readFileSync(file, "utf8")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/^\s*\/\/.*$/gm, "");
  const unit = {
    file, imports: new Map(), aliases: new Map(), interfaces: new Map(), reexports: [],
  };
  // Resolved when used: most imports are of classes and helpers, not of field types.
  const targetOf = (from) => () => from.startsWith(".")
    ? path.resolve(path.dirname(file), from.replace(/\.js$/, "") + ".d.ts")
    : packageTypesFile(from, file);
  for (const [, from] of text.matchAll(/export\s*\*\s*from\s*"([^"]+)"/g)) {
    unit.reexports.push(targetOf(from));
  }
  // `import { A as B } from` and `export { A as B } from`: both make A of that file known here.
  const importOrReexport = /(?:import|export)\s*(?:type\s*)?\{([^}]*)\}\s*from\s*"([^"]+)"/g;
  for (const [, names, from] of text.matchAll(importOrReexport)) {
    const target = targetOf(from);
    for (const entry of names.split(",").map((s) => s.trim()).filter(Boolean)) {
      const [exported, local = exported] = entry.replace(/^type\s+/, "").split(/\s+as\s+/);
      unit.imports.set(local, { target, name: exported });
    }
  }
  for (const [, names] of text.matchAll(/export\s*(?:type\s*)?\{([^}]*)\}(?!\s*from)/g)) {
    for (const entry of names.split(",").map((s) => s.trim()).filter(Boolean)) {
      const [local, exported = local] = entry.replace(/^type\s+/, "").split(/\s+as\s+/);
      if (exported !== local) unit.aliases.set(exported, { kind: "ref", name: local });
    }
  }
  for (const match of text.matchAll(/export\s+(?:declare\s+)?type\s+([\w$]+)\s*=([^;]*);/g)) {
    unit.aliases.set(match[1], new TypeParser(match[2], file).type());
  }
  for (const match of text.matchAll(/export\s+(?:declare\s+)?interface\s+([\w$]+)([^{]*)\{/g)) {
    const parser = new TypeParser(text.slice(match.index + match[0].length), file);
    const body = parser.objectBody();
    body.extends = [...match[2].matchAll(/[\w$]+/g)].map((m) => m[0]).filter((w) => w !== "extends")
      .map((name) => ({ kind: "ref", name }));
    unit.interfaces.set(match[1], body);
  }
  declarationFiles.set(file, unit);
  return unit;
}

// Resolves a reference to an object/array/union/primitive type, following aliases and imports.
function resolve(type, unit) {
  for (let depth = 0; type.kind === "ref"; depth++) {
    if (depth > 20) throw new Error(`${unit.file}: alias loop at ${type.name}`);
    if (unit.interfaces.has(type.name)) {
      const body = unit.interfaces.get(type.name);
      if (!body.merged) {
        const merged = new Map(body.props);
        for (const base of body.extends) {
          const resolved = resolve(base, unit);
          if (resolved.type.kind !== "object") {
            throw new Error(`${unit.file}: extends ${base.name}, not an object type`);
          }
          for (const [name, prop] of resolved.type.props) {
            if (!merged.has(name)) merged.set(name, { ...prop, unit: resolved.unit });
          }
        }
        body.merged = merged;
      }
      return { type: { kind: "object", props: body.merged, index: body.index }, unit };
    }
    if (unit.aliases.has(type.name)) {
      type = unit.aliases.get(type.name);
    } else if (unit.imports.has(type.name)) {
      const { target, name } = unit.imports.get(type.name);
      unit = loadDeclarations(target());
      type = { kind: "ref", name };
    } else {
      const from = unit.reexports.find((target) => {
        const other = loadDeclarations(target());
        return [other.interfaces, other.aliases, other.imports].some((m) => m.has(type.name));
      });
      if (!from) throw new Error(`${unit.file}: unknown type ${type.name}`);
      unit = loadDeclarations(from());
    }
  }
  return { type, unit };
}

const isMapping = (value) => value !== null && typeof value === "object" && !Array.isArray(value);

// Reports every key of `value` that the type does not declare.
function unknownFields(value, type, unit, at, out) {
  ({ type, unit } = resolve(type, unit));
  if (type.kind === "array") {
    if (Array.isArray(value)) {
      value.forEach((item, i) => unknownFields(item, type.of, unit, `${at}[${i}]`, out));
    }
  } else if (type.kind === "union") {
    // Unions in the models are of primitives (IntOrString, enums); check against an object
    // member if there is one.
    const member = type.members.find((m) => ["object", "ref", "array"].includes(m.kind));
    if (member) unknownFields(value, member, unit, at, out);
  } else if (type.kind === "object" && isMapping(value)) {
    for (const [key, child] of Object.entries(value)) {
      const prop = type.props.get(key);
      if (prop) unknownFields(child, prop, prop.unit ?? unit, `${at}.${key}`, out);
      else if (type.index) unknownFields(child, type.index, unit, `${at}.${key}`, out);
      else out.push(`unknown field ${at}.${key}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The model class for apiVersion + kind.

const modelsRoot = path.dirname(
  fileURLToPath(import.meta.resolve("kubernetes-models/package.json")));

async function modelFor(apiVersion, kind) {
  if (typeof apiVersion !== "string" || typeof kind !== "string" ||
      !/^([a-z0-9.-]+\/)?v\d+((alpha|beta)\d+)?$/.test(apiVersion) || !/^[A-Z]\w*$/.test(kind)) {
    throw new Error(`apiVersion ${JSON.stringify(apiVersion)} / kind ${JSON.stringify(kind)}` +
      " is not a valid type");
  }
  const file = path.join(modelsRoot, apiVersion, `${kind}.d.ts`);
  let model;
  try {
    model = (await import(`kubernetes-models/${apiVersion}`))[kind];
  } catch {
    model = undefined;
  }
  if (typeof model !== "function" || model.kind !== kind || model.apiVersion !== apiVersion ||
      !existsSync(file)) {
    throw new Error(`unknown kind ${kind} in ${apiVersion} (not in kubernetes-models)`);
  }
  return { model, declarations: loadDeclarations(file) };
}

// ---------------------------------------------------------------------------------------------
// The gateway's deployment rules.

const gatewayImage = /(^|\/)codearts-gateway(:|@|$)/;

function podSpecOf(doc) {
  switch (doc.kind) {
    case "Pod": return doc.spec;
    case "Deployment": case "StatefulSet": case "DaemonSet": case "ReplicaSet": case "Job":
      return doc.spec?.template?.spec;
    case "CronJob": return doc.spec?.jobTemplate?.spec?.template?.spec;
    default: return undefined;
  }
}

function podAnnotationsOf(doc) {
  const template = doc.kind === "CronJob" ? doc.spec?.jobTemplate?.spec?.template
    : doc.kind === "Pod" ? doc : doc.spec?.template;
  return template?.metadata?.annotations ?? {};
}

function durationSeconds(text) {
  const parts = [...String(text).matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== String(text)) return NaN;
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600 };
  return parts.reduce((sum, [, n, u]) => sum + Number(n) * unit[u], 0);
}

function portOf(address) {
  const match = /:(\d+)$/.exec(String(address));
  return match ? Number(match[1]) : undefined;
}

// Returns the rule violations of one pod spec (empty if it has no gateway container).
function checkGateway(doc, file, secretsByName) {
  const spec = podSpecOf(doc);
  if (!spec) return [];
  const problems = [];
  const gateways = [
    ...(spec.initContainers ?? []).map((c) => ({ c, init: true })),
    ...(spec.containers ?? []).map((c) => ({ c, init: false })),
  ].filter(({ c }) => gatewayImage.test(c.image ?? ""));
  if (gateways.length === 0) return [];
  const pod = spec.securityContext ?? {};
  const volumes = new Map((spec.volumes ?? []).map((v) => [v.name, v]));

  if (/native-sidecar/.test(path.basename(file)) && !gateways.some((g) => g.init)) {
    problems.push("native sidecar variant: the gateway must be in initContainers");
  }
  if (spec.automountServiceAccountToken !== false) {
    problems.push("automountServiceAccountToken must be false (the gateway needs no API access)");
  }
  if (pod.seccompProfile?.type !== "RuntimeDefault") {
    problems.push("pod securityContext.seccompProfile.type must be RuntimeDefault");
  }

  for (const { c, init } of gateways) {
    const say = (text) => problems.push(`container ${c.name}: ${text}`);
    const sc = c.securityContext ?? {};
    const env = new Map((c.env ?? []).map((e) => [e.name, e.value]));

    if (init && c.restartPolicy !== "Always") {
      say("an init container gateway needs restartPolicy: Always (else the app never starts)");
    }
    if ((sc.runAsNonRoot ?? pod.runAsNonRoot) !== true) say("runAsNonRoot must be true");
    if ((sc.runAsUser ?? pod.runAsUser) === 0) say("runAsUser must not be 0");
    if (sc.readOnlyRootFilesystem !== true) say("readOnlyRootFilesystem must be true");
    if (sc.allowPrivilegeEscalation !== false) say("allowPrivilegeEscalation must be false");
    if (sc.privileged === true) say("must not be privileged");
    if (!(sc.capabilities?.drop ?? []).includes("ALL")) say("capabilities.drop must include ALL");
    if ((sc.capabilities?.add ?? []).length > 0) say("must not add capabilities");

    for (const kind of ["requests", "limits"]) {
      for (const resource of ["cpu", "memory"]) {
        if (c.resources?.[kind]?.[resource] === undefined) {
          say(`resources.${kind}.${resource} missing`);
        }
      }
    }

    const healthPort = portOf(env.get("GATEWAY_HEALTH_LISTEN"));
    for (const probe of ["livenessProbe", "readinessProbe"]) {
      const grpc = c[probe]?.grpc;
      if (!grpc) say(`${probe} must be a grpc probe`);
      else if (healthPort !== undefined && grpc.port !== healthPort) {
        say(`${probe} port ${grpc.port} is not GATEWAY_HEALTH_LISTEN's port ${healthPort}`);
      }
    }
    if (c.livenessProbe?.grpc && c.livenessProbe.grpc.service !== "liveness") {
      say('livenessProbe must ask for service "liveness" (SERVING while the process runs)');
    }
    if (c.readinessProbe?.grpc && !c.readinessProbe.grpc.service) {
      say("readinessProbe must name the service, which turns NOT_SERVING when draining");
    }

    const listen = env.get("GATEWAY_LISTEN");
    if (listen !== undefined && !/^(127\.\d+\.\d+\.\d+:|\[::1\]:|localhost:|unix:)/.test(listen)) {
      say(`GATEWAY_LISTEN ${listen} must be loopback or a Unix socket: it holds credentials`);
    }
    // Environment variables cannot be rotated without a restart, and show in `kubectl describe`.
    for (const e of c.env ?? []) {
      if (/^(HUAWEICLOUD_|CLOUD_)SDK_(AK|SK)$/.test(e.name)) {
        say(`${e.name}: use GATEWAY_CREDENTIALS_FILE instead`);
      }
    }
    if ((c.envFrom ?? []).some((e) => e.secretRef)) {
      say("envFrom a Secret: credentials belong in GATEWAY_CREDENTIALS_FILE");
    }

    // The credentials file must be on a Secret volume mounted as a whole directory: a subPath
    // mount never sees the Secret's updates, so rotation would need a restart.
    const credentialsFile = env.get("GATEWAY_CREDENTIALS_FILE");
    if (!credentialsFile) {
      say("GATEWAY_CREDENTIALS_FILE must be set (a Secret volume, rotated without restart)");
    } else {
      const mount = (c.volumeMounts ?? [])
        .filter((m) => m.mountPath === credentialsFile ||
          credentialsFile.startsWith(m.mountPath.replace(/\/?$/, "/")))
        .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
      const volume = mount && volumes.get(mount.name);
      if (!mount) say(`no volume mounted at GATEWAY_CREDENTIALS_FILE ${credentialsFile}`);
      else if (!volume?.secret) say(`volume ${mount.name} must be a secret volume`);
      else {
        if (mount.subPath !== undefined || mount.subPathExpr !== undefined) {
          say(`volume ${mount.name} must be mounted without subPath (Secret updates never arrive)`);
        }
        if (mount.readOnly !== true) say(`volume ${mount.name} must be mounted readOnly`);
        if (!volume.secret.secretName) say(`volume ${mount.name} must name its Secret`);
        // When the Secret is among the manifests, it must have the file's key.
        const key = path.posix.relative(mount.mountPath, credentialsFile);
        const secret = secretsByName.get(volume.secret.secretName);
        const items = volume.secret.items;
        const keys = items ? items.map((i) => i.path) : secret &&
          [...Object.keys(secret.data ?? {}), ...Object.keys(secret.stringData ?? {})];
        if (key !== "" && keys && !keys.includes(key)) {
          say(`Secret ${volume.secret.secretName} has no key ${key} for GATEWAY_CREDENTIALS_FILE`);
        }
      }
    }

    const delay = durationSeconds(env.get("GATEWAY_DRAIN_DELAY") ?? "0s");
    const timeout = durationSeconds(env.get("GATEWAY_DRAIN_TIMEOUT") ?? "15s");
    const grace = spec.terminationGracePeriodSeconds ?? 30;
    if (Number.isNaN(delay) || Number.isNaN(timeout)) say("unreadable GATEWAY_DRAIN_* duration");
    else if (grace <= delay + timeout) {
      say(`terminationGracePeriodSeconds ${grace} must exceed drain delay + timeout ` +
        `(${delay + timeout}s), or the kubelet kills in-flight calls`);
    }

    const annotations = podAnnotationsOf(doc);
    const adminPort = portOf(env.get("GATEWAY_ADMIN_LISTEN"));
    if (annotations["prometheus.io/scrape"] === "true" && adminPort !== undefined &&
        Number(annotations["prometheus.io/port"]) !== adminPort) {
      say(`prometheus.io/port must be GATEWAY_ADMIN_LISTEN's port ${adminPort}`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------

const files = readdirSync(manifestDir).filter((f) => /\.ya?ml$/.test(f)).sort();
let failures = 0;
const fail = (where, text) => {
  failures++;
  console.log(`FAIL ${where}: ${text}`);
};
if (files.length === 0) fail(manifestDir, "no *.yaml files");

// Kubernetes reads manifests as YAML 1.1 (sigs.k8s.io/yaml), e.g. `0440` is octal: so do we.
const documents = [];
for (const file of files) {
  const text = readFileSync(path.join(manifestDir, file), "utf8");
  parseAllDocuments(text, { version: "1.1", prettyErrors: false }).forEach((parsed, i) => {
    const where = `${file}#${i + 1}`;
    if (parsed.errors?.length) {
      parsed.errors.forEach((e) => fail(where, `YAML: ${e.message}`));
      return;
    }
    const doc = parsed.toJS({ maxAliasCount: 0 });
    if (doc === null || doc === undefined) return;  // an empty document, e.g. after a final ---
    documents.push({ file, where, doc });
  });
}
const secretsByName = new Map(documents
  .filter(({ doc }) => doc?.kind === "Secret" && doc.apiVersion === "v1")
  .map(({ doc }) => [doc.metadata?.name, doc]));

for (const { file, where, doc } of documents) {
  const label = `${where} ${doc?.kind}/${doc?.metadata?.name ?? "(no name)"} (${doc?.apiVersion})`;
  const problems = [];
  try {
    if (typeof doc !== "object" || Array.isArray(doc)) throw new Error("not a YAML mapping");
    const { model: Model, declarations } = await modelFor(doc.apiVersion, doc.kind);
    try {
      new Model(doc).validate();
    } catch (error) {
      problems.push(...String(error.message).split(/,\s*(?=data\/)/).map((m) => `schema: ${m}`));
    }
    const unknown = [];
    unknownFields(doc, { kind: "ref", name: `I${doc.kind}` }, declarations, "", unknown);
    problems.push(...unknown.map((p) => p.replace("field .", "field ")));
    if (!doc.metadata?.name) problems.push("metadata.name is required");
    problems.push(...checkGateway(doc, file, secretsByName));
  } catch (error) {
    problems.push(error.message);
  }
  if (problems.length === 0) console.log(`ok   ${label}`);
  else problems.forEach((p) => fail(label, p));
}

if (failures > 0) {
  console.log(`${failures} problem(s) in ${manifestDir}`);
  process.exit(1);
}
console.log(`${documents.length} document(s) valid`);
