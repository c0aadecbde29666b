/** Route param parsers live in core (`api/params.ts`), where the client's param types come from too. */
export {p, params, type Parser, type ParamsParser, type ParsedShape} from "@careledger/core"
