/** The columns every extract strategy of the benchmark reads (plus contactid): 11 selected columns. */
export const benchColumns = [
  'firstname',
  'lastname',
  'emailaddress1',
  'telephone1',
  'jobtitle',
  'birthdate',
  'preferredcontactmethodcode',
  'donotemail',
  'creditlimit',
  'description',
] as const;

/** As the emulator counts them for its cost model: the primary id is selected too. */
export const selectedColumnCount = benchColumns.length + 1;
