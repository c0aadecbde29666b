/** The CapabilityStatement and SMART configuration: exactly what the server below implements. */

export const RECORD_SEARCH_PARAMS = [
  {name: "patient", type: "reference", documentation: "Patient/<id>: the enrolled patient key (64 hex) or a local Patient id anchored for it"},
  {name: "subject", type: "reference", documentation: "same as patient"},
  {name: "_lastUpdated", type: "date", documentation: "ge/gt/le/lt/eq prefixes on the anchor's block time"},
  {name: "_count", type: "number", documentation: "page size (clamped to the server maximum)"},
]

export function capabilityStatement(baseUrl: string, resourceTypes: readonly string[], now: number): Record<string, unknown> {
  const recordInteractions = ["read", "vread", "create", "update", "search-type"].map((code) => ({code}))
  return {
    resourceType: "CapabilityStatement",
    status: "active",
    date: new Date(now).toISOString(),
    kind: "instance",
    software: {name: "CareLedger"},
    implementation: {description: "CareLedger hospital node FHIR endpoint", url: baseUrl},
    fhirVersion: "4.0.1",
    format: ["json"],
    rest: [
      {
        mode: "server",
        security: {
          cors: false,
          service: [{coding: [{system: "http://terminology.hl7.org/CodeSystem/restful-security-service", code: "SMART-on-FHIR"}]}],
          extension: [
            {
              url: "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
              extension: [{url: "token", valueUri: `${baseUrl}/auth/token`}],
            },
          ],
        },
        resource: [
          ...resourceTypes.map((type) => ({
            type,
            interaction: recordInteractions,
            versioning: "versioned",
            readHistory: true,
            updateCreate: true,
            searchParam: RECORD_SEARCH_PARAMS,
            ...(type === "Patient" ? {operation: [{name: "everything", definition: "http://hl7.org/fhir/OperationDefinition/Patient-everything"}]} : {}),
          })),
          {type: "Consent", interaction: [{code: "search-type"}], searchParam: [{name: "patient", type: "reference"}, {name: "_count", type: "number"}]},
          {type: "AuditEvent", interaction: [{code: "search-type"}], searchParam: [{name: "patient", type: "reference"}, {name: "_count", type: "number"}]},
        ],
      },
    ],
  }
}

export function smartConfiguration(baseUrl: string): Record<string, unknown> {
  return {
    token_endpoint: `${baseUrl}/auth/token`,
    grant_types_supported: ["client_credentials"],
    token_endpoint_auth_methods_supported: ["private_key_jwt"],
    token_endpoint_auth_signing_alg_values_supported: ["EdDSA"],
    scopes_supported: ["system/*.read", "system/*.write", "user/*.read", "user/*.write", "patient/*.read"],
    capabilities: ["client-confidential-asymmetric", "permission-v1", "permission-v2"],
  }
}
