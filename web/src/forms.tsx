// Application forms rendered from the service version's form_schema with react-jsonschema-form.
//
// The schema is validated by the API, not in the browser: rjsf's JSON Schema validator (ajv)
// compiles each schema into code with `new Function`, which the portal's CSP (script-src
// 'self', no 'unsafe-eval') forbids. The API checks the form against the same published
// schema and answers each violation with a JSON Pointer; those come back here as rjsf's
// `extraErrors`, in the user's language, next to the field they concern.
import Form from "@rjsf/core";
import {
  englishStringTranslator,
  TranslatableString,
  type ErrorSchema,
  type RJSFSchema,
  type ValidatorType,
} from "@rjsf/utils";
import { fieldErrors, type Problem } from "./api/problem";
import { useI18n } from "./i18n";

const serverValidated: ValidatorType = {
  validateFormData: () => ({ errors: [], errorSchema: {} }),
  // Only used to pick among oneOf/anyOf branches; the portal's forms have none.
  isValid: () => true,
  rawValidation: () => ({}),
};

/** The problem's errors under `prefix` (e.g. form_data), as rjsf's nested error schema. */
export function errorSchema(problem: Problem | null, prefix: string): ErrorSchema {
  const root: Record<string, unknown> = {};
  for (const [path, messages] of Object.entries(fieldErrors(problem))) {
    const parts = path.split(".");
    if (parts[0] !== prefix) continue;
    let node = root;
    for (const part of parts.slice(1)) node = (node[part] ??= {}) as Record<string, unknown>;
    node.__errors = [...((node.__errors as string[]) ?? []), ...messages];
  }
  return root as ErrorSchema;
}

export interface SchemaFormProps {
  schema: Record<string, unknown>;
  formData: Record<string, unknown>;
  onChange: (data: Record<string, unknown>) => void;
  onSubmit: (data: Record<string, unknown>) => void;
  problem: Problem | null;
  submitText: string;
  busy: boolean;
}

export function SchemaForm(props: SchemaFormProps) {
  const { t } = useI18n();
  // The schema's own $schema/$id would be taken as links to fetch; the fields are what matter.
  const { $schema: _s, $id: _i, ...schema } = props.schema;
  void _s;
  void _i;
  return (
    <Form
      schema={schema as RJSFSchema}
      formData={props.formData}
      validator={serverValidated}
      noHtml5Validate
      showErrorList={false}
      extraErrors={errorSchema(props.problem, "form_data")}
      disabled={props.busy}
      uiSchema={{ "ui:submitButtonOptions": { submitText: props.submitText, props: { disabled: props.busy } } }}
      translateString={(key, params) =>
        key === TranslatableString.AddItemButton || key === TranslatableString.AddButton
          ? t("form.add")
          : key === TranslatableString.RemoveButton
            ? t("form.remove")
            : englishStringTranslator(key, params)
      }
      onChange={(e) => props.onChange((e.formData ?? {}) as Record<string, unknown>)}
      onSubmit={(e) => props.onSubmit((e.formData ?? {}) as Record<string, unknown>)}
    />
  );
}
