// Independent OPC UA client (node-opcua) for the interoperability test: a DCS from another vendor's stack.
// Usage: node interop_client.js CONFIG.json   (endpoint, namespace, cert/key PEM, server cert DER, pki dir, user)
// Prints one JSON object with what it read and which writes were refused.
"use strict";
const fs = require("fs");
const {
  OPCUAClient, MessageSecurityMode, SecurityPolicy, AttributeIds, BrowseDirection, DataType, UserTokenType,
  OPCUACertificateManager,
} = require("node-opcua");

// asyncua refuses a forbidden Write or Call as a service fault (whole request), which node-opcua throws
function refused(err) {
  const text = String(err && err.message);
  return text.includes("BadUserAccessDenied") ? "BadUserAccessDenied" : text;
}

async function main() {
  const cfg = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const cm = new OPCUACertificateManager({ rootFolder: cfg.pki, automaticallyAcceptUnknownCertificate: false });
  await cm.initialize();
  await cm.trustCertificate(fs.readFileSync(cfg.serverCertificate));
  const client = OPCUAClient.create({
    applicationName: cfg.name, applicationUri: cfg.applicationUri, clientCertificateManager: cm,
    certificateFile: cfg.certificate, privateKeyFile: cfg.privateKey,
    securityMode: MessageSecurityMode.SignAndEncrypt, securityPolicy: SecurityPolicy.Basic256Sha256,
    endpointMustExist: false, connectionStrategy: { maxRetry: 1, initialDelay: 200, maxDelay: 500 },
  });
  const out = {};
  await client.connect(cfg.endpoint);
  try {
    const anon = await client.createSession();
    const nsArray = (await anon.read({ nodeId: "ns=0;i=2255", attributeId: AttributeIds.Value })).value.value;
    const ns = nsArray.indexOf(cfg.namespace);
    const id = (path) => (path ? `ns=${ns};s=Dosing.${path}` : `ns=${ns};s=Dosing`);
    const read = async (path) => (await anon.read({ nodeId: id(path), attributeId: AttributeIds.Value })).value.value;
    out.generation = await read("Generation");
    const g = `G${out.generation}`;
    out.simn_kg = await read(`${g}.H0.Setpoints.SiMn`);
    const range = await read(`${g}.H0.Setpoints.SiMn.EURange`);
    out.simn_range = [range.low, range.high];
    out.simn_unit = (await read(`${g}.H0.Setpoints.SiMn.EngineeringUnits`)).displayName.text;
    out.arc_kWh = await read(`${g}.H1.ArcEnergy`);
    const typeDefinition = async (path) => (await anon.browse({ nodeId: id(path), referenceTypeId: "HasTypeDefinition",
      browseDirection: BrowseDirection.Forward })).references.map((r) => r.nodeId.toString());
    out.simn_type = await typeDefinition(`${g}.H0.Setpoints.SiMn`);
    out.arc_type = await typeDefinition(`${g}.H1.ArcEnergy`);
    out.status_before = await read("Status");
    const recId = await read("RecommendationId");
    const approve = (rid) => ({ objectId: id(""), methodId: id("Approve"), inputArguments: [
      { dataType: DataType.String, value: rid }, { dataType: DataType.String, value: "node-opcua DCS" }] });
    out.anonymous_call = await anon.call(approve(recId)).then((r) => r.statusCode.name, (err) => refused(err));
    out.anonymous_write = await anon.write({ nodeId: id("Status"), attributeId: AttributeIds.Value,
      value: { value: { dataType: DataType.String, value: "approved" } } }).then((st) => st.name, (err) => refused(err));
    await anon.close();
    const eng = await client.createSession({ type: UserTokenType.UserName, userName: cfg.user, password: cfg.password });
    out.engineer_wrong_id = (await eng.call(approve("not-the-current-id"))).statusCode.name;
    const res = await eng.call(approve(recId));
    out.engineer_call = res.statusCode.name;
    out.engineer_call_output = res.outputArguments.length ? res.outputArguments[0].value : null;
    out.status_after = (await eng.read({ nodeId: id("Status"), attributeId: AttributeIds.Value })).value.value;
    await eng.close();
    try {
      await client.createSession({ type: UserTokenType.UserName, userName: cfg.user, password: "wrong" });
      out.wrong_password = "accepted";
    } catch (err) {
      out.wrong_password = refused(err);
    }
  } finally {
    await client.disconnect();
  }
  process.stdout.write("RESULT " + JSON.stringify(out) + "\n");
}

main().catch((err) => { process.stderr.write(String(err && err.stack || err) + "\n"); process.exit(1); });
