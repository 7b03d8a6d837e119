using System.Diagnostics;
using System.Text;
using SlmStudio.Core.Data;

namespace SlmStudio.Core.Tests.Data;

/// <summary>Runs the real <c>slm prepare</c> over a folder of many mixed files, some of them bad.</summary>
public sealed class PrepareCommandTests
{
    private static (int Code, string Out, string Err) Slm(params string[] args)
    {
        var psi = new ProcessStartInfo(IsolatedExtractor.FindDotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "slm.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(120_000), "slm prepare did not finish");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    [Fact]
    public void PreparesAFolderOfManyMixedFilesAndExplainsTheBadOnes()
    {
        using var dir = new TempFolder();
        var data = Path.Combine(dir.Path, "uploads");
        var random = new Random(3);
        string Sentence() => string.Join(' ', Enumerable.Range(0, 12).Select(_ => $"w{random.Next(3000)}")) + ".";
        for (int i = 0; i < 8; i++)
            dir.Write($"uploads/notes{i}.txt", string.Join("\n\n", Enumerable.Range(0, 30).Select(_ => Sentence())) + $"\n\nWrite to person{i}@example.com with questions.\n");
        dir.Write("uploads/notes0 copy.txt", File.ReadAllText(Path.Combine(data, "notes0.txt")));
        dir.Write("uploads/guide.md", "# Guide\n\n" + Sentence());
        dir.Write("uploads/tickets.csv", "id,text\n" + string.Join("\n", Enumerable.Range(1, 20).Select(i => $"{i},\"{Sentence()}\"")) + "\n21,broken,row\n");
        dir.Write("uploads/qa.jsonl", "{\"text\": \"" + Sentence() + "\"}\nnot json\n");
        dir.Write("uploads/page.html", "<html><body><p>" + Sentence() + "</p><script>x()</script></body></html>");
        dir.Write("uploads/policy.docx", DataFixtures.Docx("Policy", [Sentence(), Sentence()]));
        dir.Write("uploads/report.pdf", DataFixtures.Pdf([Sentence()]));
        dir.Write("uploads/sub/scan.pdf", DataFixtures.ScannedPdf(1));
        var exe = new byte[64];
        "MZ"u8.CopyTo(exe);
        dir.Write("uploads/setup.pdf", exe);
        dir.Write("uploads/empty.txt", "");
        dir.Write("uploads/budget.xlsx", "x");
        var root = Path.Combine(dir.Path, "datasets");

        var (code, output, err) = Slm("prepare", "--data", data, "--out", root);
        File.WriteAllText(Path.Combine(AppContext.BaseDirectory, "prepare-output.txt"), output + err);
        Assert.True(code == 0, output + err);
        Assert.Contains("Files read:          15 of 19", output);
        Assert.Contains("8 Email", output);
        Assert.Contains("notes0.txt: This file is the same as 'notes0 copy.txt' (identical content); it was used only once.", output);
        Assert.Contains("tickets.csv: Row 22 has 3 columns but the header has 2.", output);
        Assert.Contains("qa.jsonl: Line 2 is not valid JSON ('not json' is an invalid JSON literal. Expected the literal 'null'). This line was left out.", output);
        Assert.Contains("scan.pdf: This PDF contains only scanned images", output);
        Assert.Contains("setup.pdf: This file is named '.pdf' but it is actually a program", output);
        Assert.Contains("empty.txt: The file is empty", output);
        Assert.Contains("budget.xlsx: Files of type '.xlsx' are not supported", output);
        Assert.Contains("[19/19]", err);
        var id = output.Split('\n').Single(l => l.StartsWith("Dataset version:", StringComparison.Ordinal)).Split(':')[1].Trim();
        var version = DatasetVersion.Load(Path.Combine(root, id));
        Assert.True(version.Verify());
        Assert.Equal(14, version.Sources.Count);
        Assert.Contains(version.Sources, s => s.OriginalName == Path.Combine("sub", "scan.pdf") || s.Kind == DocumentKind.Pdf);
        Assert.DoesNotContain("@example.com", File.ReadAllText(Path.Combine(version.Folder, "train.txt")) + File.ReadAllText(Path.Combine(version.Folder, "val.txt")));

        // Same data, same settings: the same version. Other settings: another one.
        var (code2, output2, _) = Slm("prepare", "--data", data, "--out", root);
        Assert.Equal(0, code2);
        Assert.Contains($"Dataset version:     {id}", output2);
        var (code3, output3, _) = Slm("prepare", "--data", data, "--out", root, "--no-redact", "--keep-duplicates", "--seed", "9");
        Assert.Equal(0, code3);
        Assert.Contains("Personal data:       not redacted", output3);
        Assert.DoesNotContain($"Dataset version:     {id}", output3);
        Assert.Equal(2, Directory.GetDirectories(root).Length);

        var (bad, _, badErr) = Slm("prepare", "--data", data, "--out", root, "--validation", "0.9");
        Assert.Equal(2, bad);
        Assert.Contains("--validation must be a number between 0 and 0.5", badErr);
    }

    [Fact]
    public void NothingUsableIsExitCodeOneAndWritesNothing()
    {
        using var dir = new TempFolder();
        dir.Write("in/empty.txt", "");
        var root = Path.Combine(dir.Path, "datasets");
        var (code, output, err) = Slm("prepare", "--data", Path.Combine(dir.Path, "in"), "--out", root);
        Assert.Equal(1, code);
        Assert.Contains("empty.txt: The file is empty", output);
        Assert.Contains("None of the files gave any usable text", err);
        Assert.False(Directory.Exists(root) && Directory.EnumerateFileSystemEntries(root).Any());
    }

    [Fact]
    public void ExtractHelpDocumentsTheInternalCommand()
    {
        var (code, output, _) = Slm("extract", "--help");
        Assert.Equal(0, code);
        Assert.Contains("internal command", output);
        Assert.Contains("--mapping", output);
    }
}
