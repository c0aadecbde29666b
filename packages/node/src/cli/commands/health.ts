import {parseArgs} from "node:util"
import {readFileSync} from "node:fs"
import {PURPOSES as CORE_PURPOSES, Purpose, fromHex, type ConsentGrantee, type ConsentScope} from "@careledger/core"
import {CareLedgerClient, HealthClient, type FhirResource} from "@careledger/client"
import {readKeyFile} from "../../keystore/index.js"
import {UsageError, type CliIo} from "../io.js"
import {RPC_CLIENT_FLAGS, rpcToken} from "./rpc.js"

const PURPOSES: readonly string[] = CORE_PURPOSES

function purpose(value: string | undefined): Purpose {
  if (value === undefined || !PURPOSES.includes(value)) throw new UsageError(`--purpose must be one of ${PURPOSES.join(", ")}`)
  return value as Purpose
}

function need(value: string | undefined, flag: string): string {
  if (value === undefined || value === "") throw new UsageError(`${flag} is required`)
  return value
}

function hex32(value: string | undefined, flag: string): Uint8Array {
  const bytes = fromHex(need(value, flag))
  if (bytes === undefined || bytes.length !== 32) throw new UsageError(`${flag} must be 32 bytes of hex`)
  return bytes
}

function list(value: string | undefined): string[] {
  return value === undefined ? [] : value.split(",").map((s) => s.trim()).filter((s) => s !== "")
}

/**
 * Health-data flows from the terminal, each signed locally with the acting person's key file
 * (`careledger keys generate --out FILE` makes one): the node only ever sees signatures.
 */
export async function healthCommand(args: string[], io: CliIo): Promise<number> {
  const [action, ...rest] = args
  const {values} = parseArgs({
    args: rest,
    options: {
      ...RPC_CLIENT_FLAGS,
      key: {type: "string"},
      "chain-id": {type: "string"},
      "record-id": {type: "string"},
      patient: {type: "string"},
      custodian: {type: "string"},
      resource: {type: "string"},
      version: {type: "string"},
      previous: {type: "string"},
      salt: {type: "string"},
      purpose: {type: "string"},
      "break-glass": {type: "string"},
      grantee: {type: "string"},
      "grantee-hospital": {type: "string"},
      types: {type: "string"},
      records: {type: "string"},
      purposes: {type: "string"},
      days: {type: "string"},
      consent: {type: "string"},
      "legal-basis": {type: "string"},
      "trial-id": {type: "string"},
      protocol: {type: "string"},
      results: {type: "string"},
      dataset: {type: "string"},
    },
    strict: true,
  })
  const url = values.url ?? io.env.CARELEDGER_RPC_URL ?? "http://127.0.0.1:8545"
  const token = rpcToken(values, io.env)
  const rpc = new CareLedgerClient({url, ...(token === undefined ? {} : {token}), timeoutMs: 60_000})
  const chainId = values["chain-id"] ?? (await rpc.nodeInfo()).chainId
  const health = new HealthClient(rpc, chainId)
  const key = () => readKeyFile(need(values.key, "--key"))
  const text = (path: string | undefined, flag: string) => readFileSync(need(path, flag), "utf8")
  const recordId = () => need(values["record-id"], "--record-id")
  let result: unknown
  switch (action) {
    case "put": {
      const resource = JSON.parse(text(values.resource, "--resource")) as FhirResource
      const put = await health.putRecord(key(), {
        recordId: recordId(),
        patient: hex32(values.patient, "--patient"),
        custodian: need(values.custodian, "--custodian"),
        resource,
        ...(values.version === undefined ? {} : {version: Number(values.version)}),
        ...(values.previous === undefined ? {} : {previous: hex32(values.previous, "--previous")}),
      })
      // The salt is what lets the patient or an auditor verify the record later: print it once.
      result = {...put, salt: Buffer.from(put.salt).toString("hex")}
      break
    }
    case "read":
      result = await health.readRecord(key(), {recordId: recordId(), purpose: purpose(values.purpose), ...(values["break-glass"] === undefined ? {} : {breakGlassReason: values["break-glass"]})})
      break
    case "grant": {
      let grantee: ConsentGrantee
      if (values.grantee !== undefined) grantee = {kind: "person", key: hex32(values.grantee, "--grantee")}
      else grantee = {kind: "hospital", hospital: need(values["grantee-hospital"], "--grantee or --grantee-hospital")}
      const scope: ConsentScope =
        values.records !== undefined ? {kind: "records", recordIds: list(values.records)} : {kind: "resource-types", resourceTypes: list(need(values.types, "--types or --records"))}
      const purposes = list(need(values.purposes, "--purposes")).map((p) => purpose(p))
      const days = Number(values.days ?? "30")
      if (!Number.isFinite(days) || days <= 0) throw new UsageError("--days must be a positive number")
      result = await health.grantConsent(key(), {grantee, scope, purposes, expiresAt: Date.now() + Math.round(days * 86_400_000)})
      break
    }
    case "revoke":
      result = await health.revokeConsent(key(), {consentId: need(values.consent, "--consent")})
      break
    case "erase":
      result = await health.eraseRecord(key(), {recordId: recordId(), legalBasis: values["legal-basis"] ?? null})
      break
    case "audit":
      result = await health.auditTrail(key())
      break
    case "export":
      result = await health.auditExport(key())
      break
    case "history":
      result = await health.recordHistory(recordId())
      break
    case "verify":
      result = await health.verifyRecord({
        recordId: recordId(),
        resource: JSON.parse(text(values.resource, "--resource")) as FhirResource,
        salt: hex32(values.salt, "--salt"),
        ...(values.version === undefined ? {} : {version: Number(values.version)}),
      })
      break
    case "trial-register":
      result = await health.registerTrial(key(), {trialId: need(values["trial-id"], "--trial-id"), protocol: text(values.protocol, "--protocol")})
      break
    case "trial-amend":
      result = await health.amendTrial(key(), {trialId: need(values["trial-id"], "--trial-id"), protocol: text(values.protocol, "--protocol")})
      break
    case "trial-result":
      result = await health.publishTrialResult(key(), {
        trialId: need(values["trial-id"], "--trial-id"),
        results: text(values.results, "--results"),
        dataset: values.dataset === undefined ? null : text(values.dataset, "--dataset"),
      })
      break
    case "trial-verify":
      result = await health.verifyTrial({
        trialId: need(values["trial-id"], "--trial-id"),
        ...(values.protocol === undefined ? {} : {protocol: text(values.protocol, "--protocol")}),
        ...(values.results === undefined ? {} : {results: text(values.results, "--results")}),
        ...(values.dataset === undefined ? {} : {dataset: text(values.dataset, "--dataset")}),
      })
      break
    default:
      throw new UsageError(`unknown health action ${JSON.stringify(action ?? "")}`)
  }
  io.out(JSON.stringify(result, null, 2))
  return 0
}
