/**
 * Declared parameter validation for JSON-RPC routes: each parser checks one untrusted JSON value and
 * returns it typed. The node runs them before a handler; the client derives its param types from them.
 */
import {fromHex} from "../encoding/index.js"
import {ApiError, ApiErrorCode} from "./errors.js"

/** Checks one untrusted JSON value and returns it typed, or throws INVALID_PARAMS naming the field. */
export type Parser<T> = (value: unknown, path: string) => T

type Shape = Record<string, Parser<unknown>>
export type ParsedShape<S extends Shape> = {[K in keyof S]: ReturnType<S[K]>}

function invalid(path: string, expected: string): never {
  throw new ApiError(ApiErrorCode.INVALID_PARAMS, `${path} must be ${expected}`, {param: path})
}

export const p = {
  string(options: {min?: number; max?: number; pattern?: RegExp} = {}): Parser<string> {
    const min = options.min ?? 0
    const max = options.max ?? 1024
    return (value, path) => {
      if (typeof value !== "string" || value.length < min || value.length > max) invalid(path, `a string of ${min}..${max} characters`)
      if (options.pattern !== undefined && !options.pattern.test(value)) invalid(path, `a string matching ${options.pattern}`)
      return value
    }
  },

  uint(options: {max?: number} = {}): Parser<number> {
    const max = options.max ?? Number.MAX_SAFE_INTEGER
    return (value, path) => {
      if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0 || value > max) invalid(path, `an integer in 0..${max}`)
      return value
    }
  },

  bool(): Parser<boolean> {
    return (value, path) => (typeof value === "boolean" ? value : invalid(path, "true or false"))
  },

  /** Hex bytes (optional 0x prefix), returned lowercase without the prefix. */
  hex(options: {bytes?: number; maxBytes?: number} = {}): Parser<string> {
    return (value, path) => {
      const text = typeof value === "string" ? value.replace(/^0x/i, "").toLowerCase() : undefined
      const bytes = text === undefined ? undefined : fromHex(text)
      const describe = options.bytes === undefined ? "hex bytes" : `${options.bytes} bytes of hex`
      if (text === undefined || bytes === undefined) invalid(path, describe)
      if (options.bytes !== undefined && bytes.length !== options.bytes) invalid(path, describe)
      if (options.maxBytes !== undefined && bytes.length > options.maxBytes) invalid(path, `at most ${options.maxBytes} bytes of hex`)
      return text
    }
  },

  oneOf<const T extends string>(...values: T[]): Parser<T> {
    return (value, path) => ((values as unknown[]).includes(value) ? (value as T) : invalid(path, `one of ${values.join(", ")}`))
  },

  /**
   * Any JSON object (a FHIR resource, a signed request). Only its being an object is checked here:
   * `T` is the shape a caller sends, and the handler hands the value to the parser of that wire
   * format (readRequestFromJson, validateFhirResource) before reading it.
   */
  jsonObject<T extends object = Record<string, unknown>>(): Parser<T> {
    return (value, path) => {
      if (value === null || typeof value !== "object" || Array.isArray(value)) invalid(path, "a JSON object")
      return value as T
    }
  },

  optional<T>(parser: Parser<T>): Parser<T | undefined> {
    return (value, path) => (value === undefined || value === null ? undefined : parser(value, path))
  },

  array<T>(item: Parser<T>, options: {max?: number} = {}): Parser<T[]> {
    const max = options.max ?? 100
    return (value, path) => {
      if (!Array.isArray(value) || value.length > max) invalid(path, `a list of at most ${max} items`)
      return value.map((entry, i) => item(entry, `${path}[${i}]`))
    }
  },

  object<S extends Shape>(shape: S): Parser<ParsedShape<S>> {
    return (value, path) => {
      if (value === null || typeof value !== "object" || Array.isArray(value)) invalid(path, "an object")
      return parseNamed(shape, value as Record<string, unknown>, path)
    }
  },
}

function parseNamed<S extends Shape>(shape: S, value: Record<string, unknown>, path: string): ParsedShape<S> {
  for (const key of Object.keys(value)) {
    if (!Object.hasOwn(shape, key)) invalid(path === "" ? key : `${path}.${key}`, "absent (unknown parameter)")
  }
  const out: Record<string, unknown> = {}
  for (const [key, parser] of Object.entries(shape)) out[key] = parser(value[key], path === "" ? key : `${path}.${key}`)
  return out as ParsedShape<S>
}

/** Parses a request's `params`: named (an object) or positional (an array, in the shape's key order). */
export type ParamsParser<T> = (params: unknown) => T

export function params<S extends Shape>(shape: S): ParamsParser<ParsedShape<S>> {
  const names = Object.keys(shape)
  return (raw) => {
    if (raw === undefined || raw === null) return parseNamed(shape, {}, "")
    if (Array.isArray(raw)) {
      if (raw.length > names.length) {
        throw new ApiError(ApiErrorCode.INVALID_PARAMS, `expected at most ${names.length} positional params, got ${raw.length}`)
      }
      const named: Record<string, unknown> = {}
      raw.forEach((value, i) => (named[names[i]!] = value))
      return parseNamed(shape, named, "")
    }
    if (typeof raw === "object") return parseNamed(shape, raw as Record<string, unknown>, "")
    throw new ApiError(ApiErrorCode.INVALID_PARAMS, "params must be an array or an object")
  }
}
