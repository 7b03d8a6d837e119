using System.Diagnostics;
using SlmStudio.Core.Data;
using SlmStudio.Core.Processes;

namespace SlmStudio.Cli.Tests;

/// <summary>Issue 14: an export whose parent (the portal) is gone stops by itself and leaves no artifact folder.</summary>
public sealed class ExportStopWithParentTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("slm-export-parent-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task An_export_whose_standard_input_is_already_closed_stops_without_writing_the_artifact()
    {
        var output = Path.Combine(_dir, "artifact");
        var start = new ProcessStartInfo(IsolatedExtractor.FindDotnetHost())
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        foreach (var a in (string[])[Path.Combine(AppContext.BaseDirectory, "slm.dll"), "export", FixturePaths.Fixture("tiny-llama-hf"), "--out", output, SlmLauncher.StopWithParentOption])
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        process.StandardInput.Close(); // the parent's end of the pipe is gone, as when the portal dies
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
        var err = await stderr;
        await stdout;

        Assert.Equal(SlmLauncher.CancelledExitCode, process.ExitCode);
        Assert.Contains("the program that started this export has ended", err);
        Assert.DoesNotContain("   at ", err);
        Assert.False(Directory.Exists(output), "a stopped export must not leave an artifact folder");
        Assert.Empty(Directory.GetDirectories(_dir)); // nor its staging folder
    }
}
