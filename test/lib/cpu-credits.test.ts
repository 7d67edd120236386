import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { configWith, resourcesOf, synth } from './synth-helpers';

const creditSpecs = (t: Template) =>
  resourcesOf(t, 'AWS::EC2::LaunchTemplate').map(([, lt]) => lt.Properties.LaunchTemplateData.CreditSpecification);

describe('the web tier credit mode reaches the launch template', () => {
  test('T-class: unlimited by default, stated in every launch template, no warning', () => {
    const s = synth();
    expect(creditSpecs(s.webTemplate)).toEqual([
      { CpuCredits: 'unlimited' },
      { CpuCredits: 'unlimited' },
      { CpuCredits: 'unlimited' },
    ]);
    Annotations.fromStack(s.web).hasNoWarning('*', Match.stringLikeRegexp('cpuCredits'));
  });

  test('standard: in the template, with a synth warning that it throttles at peak', () => {
    const s = synth(
      configWith((c) => {
        c.autoScaling = { ...c.autoScaling, cpuCredits: 'standard' };
      }),
    );
    expect(creditSpecs(s.webTemplate)).toEqual([
      { CpuCredits: 'standard' },
      { CpuCredits: 'standard' },
      { CpuCredits: 'standard' },
    ]);
    Annotations.fromStack(s.web).hasWarning(
      '*',
      Match.stringLikeRegexp('t3.small instances are throttled to their baseline \\(20% CPU per vCPU\\)'),
    );
  });

  test('other families have no credit specification (EC2 refuses one)', () => {
    const s = synth(
      configWith((c) => {
        c.autoScaling = { ...c.autoScaling, instanceType: 'c6i.large' };
      }),
    );
    expect(creditSpecs(s.webTemplate)).toEqual([undefined, undefined, undefined]);
  });
});
