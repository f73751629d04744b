/**
 * Which requirements of the spec name a changed field, so that a report points at the
 * normative text behind it. Best effort: a requirement counts when its text names both the
 * message and the field in backticks (`` `direct` `` and `` `msg` ``), which is how the spec
 * writes them; a requirement that names a field in prose, or the message by its chapter
 * only, is missed.
 * @module
 */

/** The two members of an entry of `spec/requirements.json` the matching reads. */
export interface RequirementText {
  /** The requirement ID, `LIMIT-MSG-2`. */
  readonly id: string;
  /** Its normative sentence. */
  readonly text: string;
}

/**
 * The requirement entries of a parsed `spec/requirements.json`, or `[]` when the value has
 * another shape (a file of a different spec layout should not stop the gate).
 */
export function requirementsFromJson(value: unknown): RequirementText[] {
  if (!Array.isArray(value)) return [];
  return value.filter(
    (r): r is RequirementText =>
      typeof r === "object" &&
      r !== null &&
      typeof (r as RequirementText).id === "string" &&
      typeof (r as RequirementText).text === "string",
  );
}

/** The property a field path ends with: `toPeerIds[]` → `toPeerIds`, `a.b.*` → `b`. */
export function lastFieldName(field: string): string | undefined {
  const parts = field
    .replace(/\[\]/g, "")
    .split(".")
    .filter((p) => p !== "" && p !== "*");
  return parts.at(-1);
}

/**
 * IDs of the requirements whose text names the frame `name` (a registry name,
 * `session/open`) and, when given, the field, each in backticks. HTTP bodies are named by
 * their endpoints' paths in the spec, not by a name the gate knows, so they match nothing.
 */
export function requirementsNaming(
  requirements: readonly RequirementText[],
  name: string,
  field?: string,
): string[] {
  const message = `\`${name}\``;
  const last = field === undefined ? undefined : lastFieldName(field);
  const named = last === undefined ? undefined : `\`${last}\``;
  return requirements
    .filter((r) => r.text.includes(message) && (named === undefined || r.text.includes(named)))
    .map((r) => r.id);
}
