import {
  createErrorHandler,
  type CustomValidator,
  type ErrorTransformer,
  type RJSFSchema,
  toErrorSchema,
  type UiSchema,
  unwrapErrorHandler,
  type ValidationData,
  validationDataMerge,
  type ValidatorType,
} from '@rjsf/utils';
import { schemaErrors } from './schema-errors';

/**
 * rjsf's validator without code generation: @cfworker/json-schema interprets the schema, so the
 * console runs under the gateway's content security policy (no 'unsafe-eval', which Ajv's
 * compiled validators would need).
 */
export const formValidator: ValidatorType = {
  validateFormData(
    formData: unknown,
    schema: RJSFSchema,
    customValidate?: CustomValidator,
    transformErrors?: ErrorTransformer,
    uiSchema?: UiSchema,
  ): ValidationData<unknown> {
    let errors = schemaErrors(schema, formData);
    if (transformErrors) errors = transformErrors(errors, uiSchema);
    let data: ValidationData<unknown> = { errors, errorSchema: toErrorSchema(errors) };
    if (customValidate) {
      const handler = customValidate(
        formData,
        createErrorHandler(formData),
        uiSchema,
        data.errorSchema,
      );
      data = validationDataMerge(data, unwrapErrorHandler(handler));
    }
    return data;
  },
  isValid(schema: RJSFSchema, formData: unknown, rootSchema: RJSFSchema): boolean {
    const withDefinitions = {
      ...schema,
      definitions: rootSchema.definitions,
      $defs: rootSchema.$defs,
    };
    try {
      return schemaErrors(withDefinitions as RJSFSchema, formData).length === 0;
    } catch {
      return false;
    }
  },
  rawValidation<Result = unknown>(schema: RJSFSchema, formData?: unknown) {
    try {
      return { errors: schemaErrors(schema, formData) as Result[] };
    } catch (error) {
      return { validationError: error as Error };
    }
  },
};
