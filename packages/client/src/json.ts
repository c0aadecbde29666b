/**
 * The JSON converters of the API, both ways, live in core (`api/json.ts`) beside the shapes they
 * convert; the client re-exports them so an integrator needs only this package.
 */
export {
  blockToJson,
  bytesFromHex,
  commitFromJson,
  commitToJson,
  headerFromJson,
  headerToJson,
  merklePathFromJson,
  merklePathToJson,
  toJsonValue,
  txToJson,
} from "@careledger/core"
