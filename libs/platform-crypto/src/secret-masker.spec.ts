import { SecretMasker, MASK } from './secret-masker';

describe('secret masking', () => {
  it('masks every occurrence of a secret value', () => {
    const masker = new SecretMasker(['ghp_canary123']);
    expect(masker.mask('token=ghp_canary123 again ghp_canary123')).toBe(
      `token=${MASK} again ${MASK}`,
    );
  });

  it('masks strings inside a JSON credential, and the longest value first', () => {
    const masker = new SecretMasker([
      JSON.stringify({ access_token: 'ya29.secret-token', refresh_token: 'refresh-secret-1' }),
      'ya29',
    ]);
    expect(masker.mask('using ya29.secret-token and refresh-secret-1')).toBe(
      `using ${MASK} and ${MASK}`,
    );
  });

  it('leaves lines without secrets and ignores values too short to mask safely', () => {
    const masker = new SecretMasker(['abc', 'T01234567']);
    expect(masker.mask('abc is fine, team T01234567 is not')).toBe(
      `abc is fine, team ${MASK} is not`,
    );
  });
});
