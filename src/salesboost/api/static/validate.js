// Validates a payload against the JSON-schema subset pydantic emits, so the form shows field errors before
// anything is sent: type, properties, required, additionalProperties, enum, const, minimum/maximum and their
// exclusive forms, minLength/maxLength, pattern, format date-time, items/prefixItems, minItems/maxItems,
// anyOf/oneOf/allOf and $ref into $defs. The server validates again: this is for the person typing, not a security check.

const TYPE_NAMES = {
  integer: "an integer",
  number: "a number",
  string: "a string",
  boolean: "true or false",
  null: "null",
  array: "a list",
  object: "an object",
};

function typeOf(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

function matchesType(value, type) {
  const actual = typeOf(value);
  return actual === type || (type === "number" && actual === "integer");
}

function describe(schema) {
  if (schema.enum) return `one of ${schema.enum.map((v) => JSON.stringify(v)).join(", ")}`;
  const types = [].concat(schema.type ?? []);
  return types.length ? types.map((t) => TYPE_NAMES[t] ?? t).join(" or ") : "a value";
}

function resolve(schema, root) {
  let seen = 0;
  while (schema && schema.$ref && seen++ < 32) {
    const parts = schema.$ref
      .replace(/^#\/?/, "")
      .split("/")
      .filter(Boolean)
      .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
    schema = parts.reduce((node, part) => node?.[part], root);
  }
  return schema ?? {};
}

function compile(pattern) {
  try {
    return new RegExp(pattern, "u");
  } catch {
    try {
      return new RegExp(pattern);
    } catch {
      return null; // a Python-only construct: leave it to the server
    }
  }
}

function join(path, key) {
  if (typeof key === "number") return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

function checkString(value, schema, path, errors) {
  const length = [...value].length;
  if (schema.minLength !== undefined && length < schema.minLength) {
    errors.push({
      path,
      message: schema.minLength === 1 ? "must not be empty" : `needs at least ${schema.minLength} characters`,
    });
  }
  if (schema.maxLength !== undefined && length > schema.maxLength) {
    errors.push({ path, message: `must have at most ${schema.maxLength} characters (has ${length})` });
  }
  if (schema.pattern !== undefined) {
    const regex = compile(schema.pattern);
    if (regex && !regex.test(value)) errors.push({ path, message: `must match ${schema.pattern}` });
  }
  const dateTime = DATE_TIME.test(value) && !Number.isNaN(Date.parse(value.replace(" ", "T")));
  if (schema.format === "date-time" && !dateTime) {
    errors.push({ path, message: "must be a date and time, e.g. 2026-03-10T14:00:00Z" });
  }
}

// ISO 8601 as pydantic reads it: a date, T or a space, the time (seconds optional), an optional zone.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/;

function checkNumber(value, schema, path, errors) {
  if (schema.minimum !== undefined && value < schema.minimum)
    errors.push({ path, message: `must be ≥ ${schema.minimum}` });
  if (schema.maximum !== undefined && value > schema.maximum)
    errors.push({ path, message: `must be ≤ ${schema.maximum}` });
  if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) {
    errors.push({ path, message: `must be > ${schema.exclusiveMinimum}` });
  }
  if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum) {
    errors.push({ path, message: `must be < ${schema.exclusiveMaximum}` });
  }
  if (
    schema.multipleOf !== undefined &&
    Math.abs(value / schema.multipleOf - Math.round(value / schema.multipleOf)) > 1e-9
  ) {
    errors.push({ path, message: `must be a multiple of ${schema.multipleOf}` });
  }
}

function checkArray(value, schema, root, path, errors) {
  if (schema.minItems !== undefined && value.length < schema.minItems) {
    errors.push({
      path,
      message: `needs at least ${schema.minItems} item${schema.minItems === 1 ? "" : "s"}`,
    });
  }
  if (schema.maxItems !== undefined && value.length > schema.maxItems) {
    errors.push({ path, message: `must have at most ${schema.maxItems} items` });
  }
  const prefix = schema.prefixItems ?? [];
  value.forEach((item, i) => {
    const itemSchema = i < prefix.length ? prefix[i] : schema.items;
    if (itemSchema === false) errors.push({ path: join(path, i), message: "is one item too many" });
    else if (itemSchema && itemSchema !== true) walk(item, itemSchema, root, join(path, i), errors);
  });
}

function checkObject(value, schema, root, path, errors) {
  const properties = schema.properties ?? {};
  for (const name of schema.required ?? []) {
    if (!(name in value)) errors.push({ path: join(path, name), message: "is required" });
  }
  for (const [name, item] of Object.entries(value)) {
    if (name in properties) {
      walk(item, properties[name], root, join(path, name), errors);
    } else if (schema.additionalProperties === false) {
      const known = Object.keys(properties);
      const hint = known.length ? ` (known: ${known.join(", ")})` : "";
      errors.push({ path: join(path, name), message: `is not a field of this tool${hint}` });
    } else if (schema.additionalProperties && schema.additionalProperties !== true) {
      walk(item, schema.additionalProperties, root, join(path, name), errors);
    }
  }
}

function checkAlternatives(value, branches, root, path, errors, exactlyOne) {
  const results = branches.map((branch) => {
    const found = [];
    walk(value, branch, root, path, found);
    return found;
  });
  const passing = results.filter((found) => found.length === 0).length;
  if (exactlyOne ? passing === 1 : passing > 0) return;
  if (exactlyOne && passing > 1) {
    errors.push({ path, message: "matches more than one of the allowed shapes" });
    return;
  }
  // Report the branch of the value's own type (e.g. the string branch of `string | null`), else the choices.
  const sameType = branches
    .map((branch, i) => ({ schema: resolve(branch, root), found: results[i] }))
    .filter(
      ({ schema }) => schema.type !== undefined && [].concat(schema.type).some((t) => matchesType(value, t)),
    );
  if (sameType.length === 1) {
    errors.push(...sameType[0].found);
    return;
  }
  const choices = branches.map((branch) => describe(resolve(branch, root)));
  errors.push({ path, message: `must be ${[...new Set(choices)].join(", or ")}` });
}

function walk(value, schema, root, path, errors) {
  if (schema === true || schema === undefined) return;
  if (schema === false) {
    errors.push({ path, message: "is not allowed" });
    return;
  }
  schema = resolve(schema, root);
  if (schema.anyOf) checkAlternatives(value, schema.anyOf, root, path, errors, false);
  if (schema.oneOf) checkAlternatives(value, schema.oneOf, root, path, errors, true);
  for (const part of schema.allOf ?? []) walk(value, part, root, path, errors);
  if (schema.type !== undefined && ![].concat(schema.type).some((t) => matchesType(value, t))) {
    errors.push({ path, message: `must be ${describe(schema)}, not ${TYPE_NAMES[typeOf(value)]}` });
    return;
  }
  if ("const" in schema && JSON.stringify(value) !== JSON.stringify(schema.const)) {
    errors.push({ path, message: `must be ${JSON.stringify(schema.const)}` });
  }
  if (schema.enum && !schema.enum.some((option) => JSON.stringify(option) === JSON.stringify(value))) {
    errors.push({ path, message: `must be ${describe({ enum: schema.enum })}` });
    return;
  }
  const actual = typeOf(value);
  if (actual === "string") checkString(value, schema, path, errors);
  else if (actual === "number" || actual === "integer") checkNumber(value, schema, path, errors);
  else if (actual === "array") checkArray(value, schema, root, path, errors);
  else if (actual === "object") checkObject(value, schema, root, path, errors);
}

/** Every problem of `value` against `schema`, as `{path, message}` (`path` "" is the payload itself). */
export function validate(value, schema) {
  const errors = [];
  walk(value, schema, schema, "", errors);
  return errors;
}

/** The top-level fields of an object schema, for the form's field list. */
export function fieldsOf(schema) {
  const root = resolve(schema, schema);
  const required = new Set(root.required ?? []);
  return Object.entries(root.properties ?? {}).map(([name, prop]) => {
    const resolved = resolve(prop, schema);
    const branches = (resolved.anyOf ?? [resolved])
      .map((b) => resolve(b, schema))
      .filter((b) => b.type !== "null");
    const type = branches
      .map((b) => (b.enum ? b.enum.join(" | ") : (b.type ?? b.title ?? "object")))
      .join(" | ");
    return { name, type, required: required.has(name), description: resolved.description ?? "" };
  });
}
