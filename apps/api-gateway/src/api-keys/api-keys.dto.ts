import { IsAccountId } from '@athenic/contracts';
import { ApiProperty } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength, MinLength } from 'class-validator';

export class CreateApiKeyBody {
  @ApiProperty({ example: 'user-account-id' })
  @IsAccountId()
  account_id: string;

  @ApiProperty({ example: 'ci pipeline' })
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  name: string;
}

export class AccountQuery {
  @ApiProperty({
    required: false,
    description: "Required with the service role key; defaults to the key's own account otherwise.",
  })
  @IsOptional()
  @IsString()
  account_id?: string;
}

export class CreatedApiKeyView {
  @ApiProperty()
  id: string;

  @ApiProperty()
  account_id: string;

  @ApiProperty()
  name: string;

  @ApiProperty({ description: 'The key itself, shown this once; only its hash is stored.' })
  key: string;

  @ApiProperty()
  created_at: string;
}

export class ApiKeyItemView {
  @ApiProperty()
  id: string;

  @ApiProperty()
  account_id: string;

  @ApiProperty()
  name: string;

  @ApiProperty({ description: 'The first characters of the key, to recognise it.' })
  key_prefix: string;

  @ApiProperty()
  created_at: string;

  @ApiProperty({ type: String, nullable: true })
  revoked_at: string | null;
}

export class ApiKeyListView {
  @ApiProperty({ type: [ApiKeyItemView] })
  data: ApiKeyItemView[];
}
