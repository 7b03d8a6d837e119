using System.Text;
using SlmStudio.Core.Data;

namespace SlmStudio.Core.Tests.Data;

public sealed class FileInspectorTests
{
    private static DataProblem Single(FileCheck check)
    {
        Assert.False(check.IsAccepted);
        return Assert.Single(check.Problems);
    }

    [Fact]
    public void ExecutableRenamedToPdfIsRejectedByContentNotName()
    {
        using var dir = new TempFolder();
        var exe = new byte[512];
        "MZ"u8.CopyTo(exe);
        var path = dir.Write("upload1", exe);
        var problem = Single(FileInspector.Inspect(path, "invoice.pdf", DataLimits.Default));
        Assert.Equal("invoice.pdf", problem.File);
        Assert.Equal(ProblemSeverity.Error, problem.Severity);
        Assert.Contains("program", problem.Message);
        Assert.Contains("not opened", problem.Message);

        var elf = dir.Write("upload2", [0x7F, (byte)'E', (byte)'L', (byte)'F', 2, 1, 1, 0, 0, 0]);
        Assert.Contains("program", Single(FileInspector.Inspect(elf, "notes.txt", DataLimits.Default)).Message);
    }

    [Fact]
    public void DisguisedTypesAreNamed()
    {
        using var dir = new TempFolder();
        var png = dir.Write("a", DataFixtures.Png(4, 4));
        Assert.Contains("not a PDF (it is a picture)", Single(FileInspector.Inspect(png, "scan.pdf", DataLimits.Default)).Message);
        var pdf = dir.Write("b", DataFixtures.Pdf(["Hello"]));
        Assert.Contains("not a Word document", Single(FileInspector.Inspect(pdf, "letter.docx", DataLimits.Default)).Message);
        var ole = dir.Write("c", [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0, 0, 0]);
        Assert.Contains("Word 97-2003", Single(FileInspector.Inspect(ole, "old.docx", DataLimits.Default)).Message);
        var binary = dir.Write("d", [.. Enumerable.Range(0, 256).Select(i => (byte)i)]);
        Assert.Contains("does not contain text", Single(FileInspector.Inspect(binary, "data.csv", DataLimits.Default)).Message);
        // A real PDF named .pdf is fine, whatever it is stored as.
        Assert.Equal(DocumentKind.Pdf, FileInspector.Inspect(pdf, "letter.PDF", DataLimits.Default).Kind);
    }

    [Fact]
    public void UnsupportedExtensionAndMissingExtension()
    {
        using var dir = new TempFolder();
        var path = dir.Write("x", "some text");
        var p = Single(FileInspector.Inspect(path, "budget.xlsx", DataLimits.Default));
        Assert.Contains("'.xlsx' are not supported", p.Message);
        Assert.Contains("TXT, MD, PDF, DOCX, CSV, JSONL or HTML", p.Message);
        Assert.Contains("no extension", Single(FileInspector.Inspect(path, "README", DataLimits.Default)).Message);
    }

    [Fact]
    public void EmptyAndOversizedFiles()
    {
        using var dir = new TempFolder();
        var empty = dir.Write("e", []);
        var p = Single(FileInspector.Inspect(empty, "notes.txt", DataLimits.Default));
        Assert.Contains("empty", p.Message);
        Assert.Equal("notes.txt", p.File);

        var big = dir.Write("big", new string('a', 3 * 1024 * 1024));
        var tooBig = Single(FileInspector.Inspect(big, "big.txt", new DataLimits { MaxFileBytes = 1024 * 1024 }));
        Assert.Contains("3 MB, more than the limit of 1 MB", tooBig.Message);
    }

    [Fact]
    public void DocxThatInflatesPastTheLimitIsRejectedBeforeParsing()
    {
        using var dir = new TempFolder();
        var bomb = DataFixtures.ZipBombDocx(40L * 1024 * 1024);
        Assert.True(bomb.Length < 200_000, $"the fixture should be small on disk, is {bomb.Length}");
        var path = dir.Write("bomb", bomb);
        var p = Single(FileInspector.Inspect(path, "report.docx", new DataLimits { MaxUncompressedBytes = 10L * 1024 * 1024 }));
        Assert.Contains("expand to more than 10 MB", p.Message);
    }

    [Fact]
    public void TruncatedDocxIsDamaged()
    {
        using var dir = new TempFolder();
        var docx = DataFixtures.Docx("Title", ["Some text."]);
        var path = dir.Write("t", docx[..(docx.Length / 2)]);
        var p = Single(FileInspector.Inspect(path, "contract.docx", DataLimits.Default));
        Assert.Contains("damaged or incomplete", p.Message);
    }

    [Fact]
    public void ZipThatIsNotWordIsRejected()
    {
        using var dir = new TempFolder();
        var stream = new MemoryStream();
        using (var zip = new System.IO.Compression.ZipArchive(stream, System.IO.Compression.ZipArchiveMode.Create, true))
        using (var w = new StreamWriter(zip.CreateEntry("xl/workbook.xml").Open())) w.Write("<workbook/>");
        var path = dir.Write("z", stream.ToArray());
        Assert.Contains("not a Word document", Single(FileInspector.Inspect(path, "sheet.docx", DataLimits.Default)).Message);
    }

    [Theory]
    [InlineData("../../etc/passwd.txt", "contains a folder path")]
    [InlineData("..\\..\\windows\\win.ini.txt", "contains a folder path")]
    [InlineData("evil\u0000name.txt", "invisible control characters")]
    [InlineData("report\u202Etxt.exe", "invisible control characters")]
    [InlineData("CON.txt", "reserved device name")]
    [InlineData("lpt1.md", "reserved device name")]
    public void HostileNamesAreStoredUnderGeneratedNamesAndShownEscaped(string original, string hazard)
    {
        Assert.Contains(SafeFileName.Hazards(original), h => h.Contains(hazard));
        var stored = SafeFileName.NewStorageName(original);
        Assert.Matches("^[0-9a-f]{32}\\.(txt|md|upload)$", stored);
        Assert.NotEqual(stored, SafeFileName.NewStorageName(original));
        var shown = SafeFileName.ForDisplay(original);
        Assert.DoesNotContain(shown, c => char.IsControl(c) || c == '\u202E');

        // The file is still read normally, under its generated name, with the escaped name in every message.
        using var dir = new TempFolder();
        var path = dir.Write(stored, "");
        var problem = Single(FileInspector.Inspect(path, original, DataLimits.Default));
        Assert.Equal(shown, problem.File);
        Assert.True(File.Exists(path));
        Assert.Equal([path], Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void DisplayEscapesAndShortens()
    {
        Assert.Equal("a\\u{0007}b.txt", SafeFileName.ForDisplay("a\u0007b.txt"));
        Assert.Equal("report\\u{202E}txt.exe", SafeFileName.ForDisplay("report\u202Etxt.exe"));
        Assert.Equal(SafeFileName.MaxDisplayLength, SafeFileName.ForDisplay(new string('x', 500) + ".txt").Length);
        Assert.Equal(".pdf", SafeFileName.Extension("../x/Report.PDF"));
        Assert.Equal("", SafeFileName.Extension("noext"));
        Assert.Equal("", SafeFileName.Extension("weird.p$f"));
        Assert.EndsWith(".upload", SafeFileName.NewStorageName("tool.exe"));
    }
}

public sealed class UploadStoreTests
{
    [Fact]
    public async Task StoresUnderGeneratedNamesAndCutsOffOversizedUploads()
    {
        using var dir = new TempFolder();
        var limits = new DataLimits { MaxFileBytes = 1000 };
        var (path, problem) = await UploadStore.SaveAsync(new MemoryStream(Encoding.UTF8.GetBytes("hello")), "../../secret/notes.txt", dir.Path, limits, CancellationToken.None);
        Assert.Null(problem);
        Assert.Equal(dir.Path, Path.GetDirectoryName(path));
        Assert.EndsWith(".txt", path);
        Assert.Equal("hello", File.ReadAllText(path!));

        var (same, _) = await UploadStore.SaveAsync(new MemoryStream(Encoding.UTF8.GetBytes("hello")), "../../secret/notes.txt", dir.Path, limits, CancellationToken.None);
        Assert.NotEqual(path, same);

        var (none, tooBig) = await UploadStore.SaveAsync(new MemoryStream(new byte[5000]), "big.pdf", dir.Path, limits, CancellationToken.None);
        Assert.Null(none);
        Assert.Contains("larger than the limit", tooBig!.Message);
        Assert.Equal("big.pdf", tooBig.File);
        Assert.Equal(2, Directory.GetFiles(dir.Path).Length);
    }
}
