"""`flask evidence verify PACK.zip [--public-key FILE]` and `flask evidence public-key` (issue 15 point 3,
services/evidence.py). Neither touches the database: verify needs only the pack and the public key (the
file given, else the one of this portal's configured key)."""
import sys

import click
from flask import current_app
from flask.cli import AppGroup
from flask_babel import gettext as _

from app.services import evidence

evidence_cli = AppGroup("evidence", help="Evidence packs: verify one offline, print the public key (exit 0 intact, "
                                         "1 tampered, 2 unusable input).")


@evidence_cli.command("verify")
@click.argument("pack", type=click.Path(dir_okay=False))
@click.option("--public-key", "public_key_file", type=click.Path(dir_okay=False),
              help="The signer's public key (PEM, or the 32 raw bytes in base64, as `flask evidence public-key` "
                   "prints it); default: this portal's own key.")
def evidence_verify(pack, public_key_file):
    """Check the signature of the pack's manifest.json and every file's SHA-256 and size; print what is wrong
    (which file changed, is missing or is extra) and exit 1, or print a summary and exit 0; 2 for unusable
    input (not a ZIP, no manifest, an unreadable key)."""
    try:
        if public_key_file:
            try:
                with open(public_key_file, "rb") as handle:
                    public_key = evidence.load_public_key(handle.read())
            except OSError as exc:
                raise evidence.PackError(_("无法读取公钥文件:%(e)s", e=exc)) from exc
        else:
            public_key = evidence.signing_key(current_app.config)[0].public_key()
        try:
            with open(pack, "rb") as handle:
                problems, manifest = evidence.verify(handle, public_key)
        except OSError as exc:
            raise evidence.PackError(_("无法读取证据包:%(e)s", e=exc)) from exc
    except evidence.PackError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    if problems:
        click.echo(_("证据包校验未通过:%(pack)s", pack=pack))
        for problem in problems:
            click.echo(f"  - {problem}")
        sys.exit(1)
    subject = (manifest.get("subject") or {}).get("label", "")
    click.echo(_("证据包完整:%(subject)s,生成于 %(at)s,%(count)s 个文件的 SHA-256 均与签名清单一致(密钥编号 %(key)s)。",
                 subject=subject, at=manifest.get("created_at", ""), count=len(manifest.get("files", [])),
                 key=evidence.key_id(public_key)))


@evidence_cli.command("public-key")
def evidence_public_key():
    """Print the public key (PEM) that verifies this portal's evidence packs; save it and give it to
    `flask evidence verify --public-key FILE` anywhere."""
    private, derived = evidence.signing_key(current_app.config)
    public = private.public_key()
    click.echo(evidence.public_pem(public), nl=False)
    click.echo(_("密钥编号 %(key)s", key=evidence.key_id(public)), err=True)
    if derived:
        click.echo(_("注意:未设置 EVIDENCE_SIGNING_KEY,此为由 SECRET_KEY 派生的开发环境密钥,生产环境必须设置。"), err=True)
