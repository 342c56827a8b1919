// Validates adapter protocol messages against runner/protocol/adapter-protocol.schema.json.
import Ajv2020Module from "ajv/2020";

type Validate = ((d: unknown) => boolean) & {
  errors?: { instancePath: string; message?: string }[] | null;
};
type AjvLike = { compile(s: unknown): Validate };
const Ajv2020 =
  ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as new (
    o: unknown,
  ) => AjvLike;

const schema = JSON.parse(
  Deno.readTextFileSync(new URL("protocol/adapter-protocol.schema.json", import.meta.url)),
);
const validators = new Map<string, Validate>();

function validatorFor(type: string): Validate | undefined {
  if (!validators.has(type)) {
    const def = schema.$defs[type];
    if (!def) return undefined;
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    validators.set(type, ajv.compile({ ...def, $defs: schema.$defs }));
  }
  return validators.get(type);
}

/** undefined when the message is valid; otherwise what is wrong with it. */
export function protocolProblem(message: unknown): string | undefined {
  if (typeof message !== "object" || message === null || Array.isArray(message)) {
    return "not a JSON object";
  }
  const type = (message as { type?: unknown }).type;
  if (typeof type !== "string") return 'missing "type"';
  const v = validatorFor(type);
  if (!v) return `unknown message type "${type}"`;
  if (v(message)) return undefined;
  return (v.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}`).join("; ");
}
