import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../emulator/index.js';
import { call, startFast } from './client.js';

let emu: RunningEmulator;
beforeAll(async () => {
  emu = await startFast();
});
afterAll(() => emu.close());

const ED = (t: string) => `EntityDefinitions(LogicalName='${t}')`;

describe('metadata (behaviours item 1)', () => {
  it('[webapi §1] EntityDefinitions(LogicalName=...) with $select returns the entity and MetadataId', async () => {
    const r = await call(
      emu,
      'GET',
      `${ED('account')}?$select=EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute,SchemaName,LogicalCollectionName`,
    );
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      EntitySetName: 'accounts',
      PrimaryIdAttribute: 'accountid',
      PrimaryNameAttribute: 'name',
      SchemaName: 'Account',
      LogicalCollectionName: 'accounts',
    });
    expect(r.json.MetadataId).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.json.ObjectTypeCode).toBeUndefined();
  });

  it('[webapi §1] contact is real: fullname primary name, Customer lookup with account and contact targets', async () => {
    const e = await call(emu, 'GET', `${ED('contact')}?$select=PrimaryNameAttribute,EntitySetName`);
    expect(e.json.PrimaryNameAttribute).toBe('fullname');
    const l = await call(
      emu,
      'GET',
      `${ED('contact')}/Attributes/Microsoft.Dynamics.CRM.LookupAttributeMetadata?$select=LogicalName,Targets`,
    );
    const parent = l.json.value.find((a: { LogicalName: string }) => a.LogicalName === 'parentcustomerid');
    expect(parent.Targets).toEqual(['account', 'contact']);
    expect(parent['@odata.type']).toBe('#Microsoft.Dynamics.CRM.LookupAttributeMetadata');
  });

  it('[webapi §1] StringAttributeMetadata cast gives MaxLength; Integer gives MinValue/MaxValue', async () => {
    const s = await call(
      emu,
      'GET',
      `${ED('account')}/Attributes/Microsoft.Dynamics.CRM.StringAttributeMetadata?$select=LogicalName,MaxLength`,
    );
    const byName = Object.fromEntries(
      s.json.value.map((a: { LogicalName: string; MaxLength: number }) => [a.LogicalName, a.MaxLength]),
    );
    expect(byName.name).toBe(160);
    expect(byName.accountnumber).toBe(20);
    expect(byName.revenue).toBeUndefined();
    const i = await call(
      emu,
      'GET',
      `${ED('account')}/Attributes/Microsoft.Dynamics.CRM.IntegerAttributeMetadata?$select=LogicalName,MinValue,MaxValue`,
    );
    const emp = i.json.value.find((a: { LogicalName: string }) => a.LogicalName === 'numberofemployees');
    expect([emp.MinValue, emp.MaxValue]).toEqual([0, 1000000000]);
  });

  it('[webapi §1] Picklist cast with $expand=OptionSet returns Options with labels', async () => {
    const r = await call(
      emu,
      'GET',
      `${ED('contact')}/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet($select=Options),GlobalOptionSet($select=Options)`,
    );
    const pcm = r.json.value.find(
      (a: { LogicalName: string }) => a.LogicalName === 'preferredcontactmethodcode',
    );
    const options = pcm.OptionSet.Options.map(
      (o: { Value: number; Label: { UserLocalizedLabel: { Label: string } } }) => [
        o.Value,
        o.Label.UserLocalizedLabel.Label,
      ],
    );
    expect(options).toEqual([
      [1, 'Any'],
      [2, 'Email'],
      [3, 'Phone'],
      [4, 'Fax'],
      [5, 'Mail'],
    ]);
    expect(pcm.GlobalOptionSet).toBeNull();
  });

  it('[webapi §1] DateTimeAttributeMetadata gives DateTimeBehavior as a complex value', async () => {
    const r = await call(
      emu,
      'GET',
      `${ED('contact')}/Attributes/Microsoft.Dynamics.CRM.DateTimeAttributeMetadata?$select=LogicalName,Format,DateTimeBehavior`,
    );
    const birth = r.json.value.find((a: { LogicalName: string }) => a.LogicalName === 'birthdate');
    expect(birth.DateTimeBehavior).toEqual({ Value: 'DateOnly' });
    expect(birth.Format).toBe('DateOnly');
  });

  it('[webapi §1] the base EnumAttributeMetadata cast is refused', async () => {
    const r = await call(
      emu,
      'GET',
      `${ED('contact')}/Attributes/Microsoft.Dynamics.CRM.EnumAttributeMetadata`,
    );
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('0x80060888');
  });

  it('[webapi §1] Keys lists the alternate keys with KeyAttributes and Active status', async () => {
    const r = await call(
      emu,
      'GET',
      `${ED('contact')}/Keys?$select=LogicalName,SchemaName,KeyAttributes,EntityKeyIndexStatus`,
    );
    expect(r.json.value).toHaveLength(1);
    expect(r.json.value[0]).toMatchObject({
      KeyAttributes: ['emailaddress1'],
      EntityKeyIndexStatus: 'Active',
    });
  });

  it('[webapi §1] single attribute and $filter on AttributeType enum literal', async () => {
    const one = await call(
      emu,
      'GET',
      `${ED('account')}/Attributes(LogicalName='name')?$select=LogicalName,AttributeType,RequiredLevel`,
    );
    expect(one.json).toMatchObject({
      LogicalName: 'name',
      AttributeType: 'String',
      RequiredLevel: { Value: 'ApplicationRequired' },
    });
    const filtered = await call(
      emu,
      'GET',
      `${ED('account')}/Attributes?$select=LogicalName&$filter=AttributeType eq Microsoft.Dynamics.CRM.AttributeTypeCode'Money'`,
    );
    expect(filtered.json.value.map((a: { LogicalName: string }) => a.LogicalName).sort()).toEqual([
      'creditlimit',
      'marketcap',
      'revenue',
    ]);
  });

  it('[webapi §1] the service document lists entity sets; unknown segments → 404 0x80060888', async () => {
    const doc = await call(emu, 'GET', '');
    expect(doc.json.value).toContainEqual({ name: 'contacts', kind: 'EntitySet', url: 'contacts' });
    const r = await call(emu, 'GET', 'nosuchsets');
    expect(r.status).toBe(404);
    expect(r.json.error).toEqual({
      code: '0x80060888',
      message: "Resource not found for the segment 'nosuchsets'.",
    });
  });
});
