using SlmStudio.Core.Data;

namespace SlmStudio.Core.Tests.Data;

/// <summary>These start the real <c>slm extract</c> child process (slm.dll is in the test output folder).</summary>
public sealed class IsolatedExtractorTests
{
    private static readonly IsolatedExtractor Isolated = IsolatedExtractor.ForCurrentInstall();

    [Fact]
    public async Task ChildProcessGivesTheSameResultAsInProcess()
    {
        using var dir = new TempFolder();
        var docx = dir.Write("d1", DataFixtures.Docx("Policy", ["Overtime is paid at 125%.", "Ask your manager first."], [["Day", "Rate"], ["Sunday", "150%"]]));
        var name = "../hr\u0007/policy.docx";
        var isolated = await Isolated.ExtractAsync(docx, name, null, DataLimits.Default, CancellationToken.None);
        var direct = DocumentExtractor.Extract(docx, name, null, DataLimits.Default, CancellationToken.None);
        Assert.Equal(name, isolated.OriginalName);
        Assert.Equal(direct.Records, isolated.Records);
        Assert.Equal(direct.Stats.Characters, isolated.Stats.Characters);
        Assert.Equal(direct.SourceSha256, isolated.SourceSha256);
        Assert.Empty(isolated.Problems);

        var csv = dir.Write("c1", "body,topic\nHello there friend,greeting\nGoodbye for now,farewell\n");
        var mapped = await Isolated.ExtractAsync(csv, "t.csv", ColumnMapping.Labelled("body", "topic"), DataLimits.Default, CancellationToken.None);
        Assert.Equal(["greeting", "farewell"], mapped.Records.Select(r => r.Label));
    }

    [Fact]
    public async Task PdfThatInflatesBeyondTheMemoryLimitIsStopped()
    {
        using var dir = new TempFolder();
        var pdf = DataFixtures.InflatingPdf(600);
        Assert.True(pdf.Length < 2_000_000);
        var path = dir.Write("bomb", pdf);
        var limits = DataLimits.Default with { ParseMemoryBytes = 256L * 1024 * 1024, ParseTimeout = TimeSpan.FromSeconds(120) };
        var doc = await Isolated.ExtractAsync(path, "annual report.pdf", null, limits, CancellationToken.None);
        var p = Assert.Single(doc.Problems);
        Assert.Equal(ProblemSeverity.Error, p.Severity);
        Assert.Equal("annual report.pdf", p.File);
        Assert.True(p.Message.Contains("needed more than 256 MB of memory"), p.Message);
        Assert.Contains("other files are not affected", p.Message);
        Assert.Empty(doc.Records);
    }

    [Fact]
    public async Task PdfThatTakesTooLongIsStoppedAtTheTimeLimit()
    {
        using var dir = new TempFolder();
        var path = dir.Write("slow", DataFixtures.SlowPdf(3_000_000));
        var limits = DataLimits.Default with { ParseTimeout = TimeSpan.FromSeconds(2), ParseMemoryBytes = 4L * 1024 * 1024 * 1024 };
        var doc = await Isolated.ExtractAsync(path, "slow.pdf", null, limits, CancellationToken.None);
        // The message names the limit that fired: the time limit, not memory or a crash.
        var p = Assert.Single(doc.Problems);
        Assert.Equal("This PDF could not be read within 2 seconds, so reading it was stopped. It may be damaged or built in an unusual way. Your other files are not affected.", p.Message);
    }

    [Fact]
    public async Task DeeplyNestedPdfIsAProblemNotACrash()
    {
        using var dir = new TempFolder();
        var path = dir.Write("nested", DataFixtures.RawPdf(s =>
        {
            s.Write("BT /F1 12 Tf 50 700 Td "u8);
            for (int i = 0; i < 200_000; i++) s.WriteByte((byte)'[');
            for (int i = 0; i < 200_000; i++) s.WriteByte((byte)']');
            s.Write(" TJ ET"u8);
        }));
        var doc = await Isolated.ExtractAsync(path, "nested.pdf", null, DataLimits.Default, CancellationToken.None);
        Assert.False(doc.IsUsable);
        Assert.Contains(doc.Problems, p => p.Severity == ProblemSeverity.Error && p.File == "nested.pdf");
    }

    [Fact]
    public async Task BadInputIsRejectedWithoutStartingAProcess()
    {
        using var dir = new TempFolder();
        var path = dir.Write("e", []);
        // An engine that is not there: starting a process would throw, so a plain problem proves none was started.
        var noEngine = new IsolatedExtractor(Path.Combine(dir.Path, "missing", "slm.dll"));
        var doc = await noEngine.ExtractAsync(path, "empty.pdf", null, DataLimits.Default, CancellationToken.None);
        Assert.Contains("empty", Assert.Single(doc.Problems).Message);
    }

    [Fact]
    public async Task AChildThatDiesWithoutAResultIsAProblemForThatFileOnly()
    {
        using var dir = new TempFolder();
        var path = dir.Write("p", DataFixtures.Pdf(["Hello"]));
        // Not an assembly: the dotnet host starts, fails to load it and exits without writing a result.
        var brokenEngine = dir.Write("slm.dll", "this is not an assembly");
        var broken = new IsolatedExtractor(brokenEngine);
        var doc = await broken.ExtractAsync(path, "hello.pdf", null, DataLimits.Default, CancellationToken.None);
        var p = Assert.Single(doc.Problems);
        Assert.StartsWith("The reader stopped unexpectedly while reading this PDF (code ", p.Message);
        Assert.Equal("hello.pdf", p.File);
    }

    [Fact]
    public async Task CancellingStopsTheChild()
    {
        using var dir = new TempFolder();
        var path = dir.Write("slow", DataFixtures.SlowPdf(3_000_000));
        // Whether the token fires before or after the child started, the outcome must be the same.
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(800));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Isolated.ExtractAsync(path, "slow.pdf", null, DataLimits.Default, cts.Token));
        Assert.Empty(ProcessesReading(path));
    }

    /// <summary>Live processes whose command line names <paramref name="file"/> (Linux /proc; empty elsewhere).</summary>
    private static List<int> ProcessesReading(string file)
    {
        var found = new List<int>();
        if (!OperatingSystem.IsLinux()) return found;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            try
            {
                var commandLine = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                var state = File.ReadAllText(Path.Combine(dir, "stat"));
                // A zombie has exited already; only its parent has not collected it yet.
                if (commandLine.Contains(file, StringComparison.Ordinal) && !state.Contains(") Z ", StringComparison.Ordinal)) found.Add(pid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // gone while looking
        }
        return found;
    }
}
