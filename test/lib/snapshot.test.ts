import { CfnJson, synth } from './synth-helpers';

/**
 * The whole architecture as templates. Asset hashes are normalized by the jest serializer; the user data
 * and the bundled Lambda code are tested by their owners (test/bootstrap, the handler tests), so they are
 * masked here and the snapshot changes only when the architecture does.
 */
function normalized(template: Record<string, CfnJson>): Record<string, CfnJson> {
  const t = JSON.parse(JSON.stringify(template));
  for (const r of Object.values<CfnJson>(t.Resources)) {
    if (r.Type === 'AWS::EC2::LaunchTemplate')
      r.Properties.LaunchTemplateData.UserData = '<user data: see test/bootstrap>';
  }
  return t;
}

test('templates match the snapshot', () => {
  const s = synth();
  expect(normalized(s.dataTemplate.toJSON())).toMatchSnapshot('data stack');
  expect(normalized(s.webTemplate.toJSON())).toMatchSnapshot('web stack');
  expect(normalized(s.assembly.getStackByName(s.import.stackName).template)).toMatchSnapshot('import stack');
});
