"""What the command-line tests share: running the CLI in-process."""
from recsys_core.cli import main


def cli(capsys, *args):
    """Run the command line in-process: (exit code, stdout, stderr)."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse errors and --help
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err
