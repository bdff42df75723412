// Validates Kubernetes objects against the API schemas of the npm packages
// kubernetes-models and @kubernetes-models/prometheus-operator: types,
// required fields, enums and formats of every field (unknown fields are not
// refused; those packages' schemas allow them).
//
//   node validate_manifests.js MODELS_DIR < objects.json
//
// objects.json is a JSON array of objects (tests/helm/chart_check.py makes it
// from `helm template`). Prints one line per object; exits 1 if any object
// is invalid or of a kind without a schema here, naming the object and the
// field.
"use strict";
const path = require("path");

const modelsDir = process.argv[2];
if (!modelsDir) {
  console.error("usage: node validate_manifests.js MODELS_DIR < objects.json");
  process.exit(2);
}
const nodeModules = path.join(modelsDir, "node_modules");

// apiVersion "apps/v1", kind "Deployment" -> the module of its model.
function modelModule(apiVersion, kind) {
  if (apiVersion.startsWith("monitoring.coreos.com/")) {
    return path.join(nodeModules, "@kubernetes-models", "prometheus-operator",
                     apiVersion, kind);
  }
  return path.join(nodeModules, "kubernetes-models", apiVersion, kind);
}

const objects = JSON.parse(require("fs").readFileSync(0, "utf8"));
let failures = 0;
for (const obj of objects) {
  const name = `${obj.kind}/${obj.metadata && obj.metadata.name}`;
  let Model;
  try {
    Model = require(modelModule(obj.apiVersion, obj.kind))[obj.kind];
  } catch (e) {
    console.log(`NO SCHEMA ${name} (${obj.apiVersion})`);
    failures++;
    continue;
  }
  try {
    new Model(obj).validate();
    console.log(`valid ${name} (${obj.apiVersion})`);
  } catch (e) {
    console.log(`INVALID ${name} (${obj.apiVersion}): ${e.message}`);
    failures++;
  }
}
process.exit(failures ? 1 : 0);
