// Validates Kubernetes custom resources with the model packages generated from the operators'
// CRDs (package.json pins them; deploy/README.md names the operator versions).
//
// Reads a JSON array of resources on stdin and prints a JSON array, in the same order, of
// {apiVersion, kind, name, errors}: an empty `errors` means the resource is valid.
//
// Each resource is checked twice, because neither check alone refuses everything the API
// server would drop or reject:
// - the model's validate(): the JSON schema the package compiled from the CRD (types,
//   enums, patterns, minimums, required fields). Those schemas do not close objects, so a
//   field the CRD does not declare passes it;
// - the model's TypeScript interface, the resource written as an object literal typed by it:
//   TypeScript refuses a property the interface does not declare (its excess property check,
//   which names the first such property of each object), which is how a misspelt field or a
//   v1beta2-shaped Kafka under v1 fails here, where the API server would prune it without a
//   word. Free-form maps (Kafka `config`) are typed open in the packages and stay open.
// An apiVersion and kind no package models is an error. The one exception is the Barman Cloud
// plugin's ObjectStore, which no package models: its envelope is checked by our own rules
// below, its `metadata` by apimachinery's ObjectMeta model and its `spec.configuration` by the
// BarmanObjectStoreConfiguration model that @kubernetes-models/cloudnative-pg ships (the type
// CloudNativePG's backup configuration uses).

import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const HERE = path.dirname(fileURLToPath(import.meta.url));

// apiVersion -> the module folder of the package that models it.
const MODELS = {
  "kafka.strimzi.io/v1": "@kubernetes-models/strimzi-kafka-operator/kafka.strimzi.io/v1",
  "postgresql.cnpg.io/v1": "@kubernetes-models/cloudnative-pg/postgresql.cnpg.io/v1",
  "monitoring.coreos.com/v1": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1",
};
const BARMAN = "@kubernetes-models/cloudnative-pg/github.com/cloudnative-pg/barman-cloud/pkg/api";
const META = "@kubernetes-models/apimachinery/apis/meta/v1";
const OBJECT_STORE = "barmancloud.cnpg.io/v1/ObjectStore";

// A resource (or part of one) to check: `data` against the model `className` exported by
// `module`, whose TypeScript interface is `I${className}`; errors are prefixed with `at`.
function target(module, className, data, at = "") {
  return { module, className, data, at };
}

function name(resource) {
  return resource?.metadata?.name ?? null;
}

// Our own rules for the ObjectStore envelope (barmancloud.cnpg.io/v1): the fields its CRD
// declares at the top and in `spec`; `metadata` and `spec.configuration` go to the models.
function objectStoreTargets(resource, errors) {
  const allowed = ["apiVersion", "kind", "metadata", "spec", "status"];
  for (const key of Object.keys(resource)) {
    if (!allowed.includes(key)) errors.push(`/${key}: unknown field`);
  }
  if (typeof name(resource) !== "string") errors.push("/metadata/name: required");
  const targets = [target(META, "ObjectMeta", resource.metadata ?? {}, "/metadata")];
  const spec = resource.spec;
  if (spec === null || typeof spec !== "object" || Array.isArray(spec)) {
    errors.push("/spec: required object");
    return targets;
  }
  const specFields = ["configuration", "retentionPolicy", "instanceSidecarConfiguration"];
  for (const key of Object.keys(spec)) {
    if (!specFields.includes(key)) errors.push(`/spec/${key}: unknown field`);
  }
  if (spec.retentionPolicy !== undefined && !/^[1-9][0-9]*[dwm]$/.test(spec.retentionPolicy)) {
    errors.push("/spec/retentionPolicy: must be a number of days, weeks or months (30d)");
  }
  const sidecar = spec.instanceSidecarConfiguration;
  if (sidecar !== undefined && (sidecar === null || typeof sidecar !== "object")) {
    errors.push("/spec/instanceSidecarConfiguration: must be an object");
  }
  if (spec.configuration === undefined) {
    errors.push("/spec/configuration: required");
    return targets;
  }
  const configuration = target(
    BARMAN,
    "BarmanObjectStoreConfiguration",
    spec.configuration,
    "/spec/configuration",
  );
  return [...targets, configuration];
}

async function targetsOf(resource, errors) {
  if (resource === null || typeof resource !== "object" || Array.isArray(resource)) {
    errors.push("not an object");
    return [];
  }
  const { apiVersion, kind } = resource;
  if (`${apiVersion}/${kind}` === OBJECT_STORE) return objectStoreTargets(resource, errors);
  const module = MODELS[apiVersion];
  const models = module && /^[A-Z][A-Za-z0-9]*$/.test(kind ?? "") ? await import(module) : {};
  const model = Object.hasOwn(models, kind) ? models[kind] : undefined;
  if (model?.apiVersion !== apiVersion || model?.kind !== kind) {
    errors.push(`no model for apiVersion ${apiVersion} kind ${kind}`);
    return [];
  }
  return [target(module, kind, resource)];
}

async function schemaErrors({ module, className, data, at }) {
  const Model = (await import(module))[className];
  try {
    new Model(data).validate();
    return [];
  } catch (error) {
    if (!Array.isArray(error.errors)) throw error;
    return error.errors.map((e) => `${at}${e.instancePath || "/"}: ${e.message}`);
  }
}

// The JSON path of the innermost property or element of the literal at `position`.
function pathAt(source, position) {
  let node = source;
  for (;;) {
    const child = node.getChildren(source).find((c) => c.pos <= position && position < c.end);
    if (!child) break;
    node = child;
  }
  const parts = [];
  for (; node && node !== source; node = node.parent) {
    const parent = node.parent;
    if (parent && ts.isPropertyAssignment(parent) && parent.initializer === node) {
      parts.unshift(parent.name.text);
    } else if (ts.isPropertyAssignment(node) && parts.length === 0) {
      parts.unshift(node.name.text);
    } else if (parent && ts.isArrayLiteralExpression(parent)) {
      parts.unshift(String(parent.elements.indexOf(node)));
    }
  }
  return `/${parts.join("/")}`;
}

// Type-checks every target in one TypeScript program: one virtual file per target.
function typeErrors(targets) {
  const files = new Map();
  targets.forEach(({ module, className, data }, i) => {
    const file = path.join(HERE, `resource-${i}.ts`);
    const text =
      `import type { I${className} } from "${module}/${className}";\n` +
      `const resource: I${className} = ${JSON.stringify(data, null, 2)};\n` +
      "export default resource;\n";
    files.set(file, text);
  });
  const options = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const { fileExists, readFile, getSourceFile } = host;
  host.fileExists = (f) => files.has(f) || fileExists.call(host, f);
  host.readFile = (f) => files.get(f) ?? readFile.call(host, f);
  host.getSourceFile = (f, language, ...rest) =>
    files.has(f)
      ? ts.createSourceFile(f, files.get(f), language, true)
      : getSourceFile.call(host, f, language, ...rest);
  const program = ts.createProgram([...files.keys()], options, host);
  const byTarget = targets.map(() => []);
  const fileNames = [...files.keys()];
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const i = diagnostic.file ? fileNames.indexOf(diagnostic.file.fileName) : -1;
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, " ");
    if (i < 0) throw new Error(`TypeScript: ${message}`);
    const at = targets[i].at + pathAt(diagnostic.file, diagnostic.start ?? 0);
    byTarget[i].push(`${at}: ${message}`);
  }
  return byTarget;
}

async function main() {
  const resources = JSON.parse(readFileSync(0, "utf8"));
  if (!Array.isArray(resources)) throw new Error("stdin must hold a JSON array of resources");
  const reports = [];
  const targets = [];
  for (const resource of resources) {
    const errors = [];
    for (const t of await targetsOf(resource, errors)) {
      errors.push(...(await schemaErrors(t)));
      targets.push({ ...t, errors });
    }
    reports.push({
      apiVersion: resource?.apiVersion ?? null,
      kind: resource?.kind ?? null,
      name: name(resource),
      errors,
    });
  }
  typeErrors(targets).forEach((errors, i) => targets[i].errors.push(...errors));
  process.stdout.write(`${JSON.stringify(reports, null, 2)}\n`);
}

await main();
