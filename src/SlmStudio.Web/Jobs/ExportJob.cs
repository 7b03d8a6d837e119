using Hangfire;
using Microsoft.EntityFrameworkCore;
using SlmStudio.Web.Data;
using SlmStudio.Web.Options;
using SlmStudio.Web.Services;
using SlmStudio.Web.Training;

namespace SlmStudio.Web.Jobs;

/// <summary>Continuation of training: exports the run's best model to ONNX with <c>slm export</c> into a staging folder.</summary>
public sealed class ExportJob(IDbContextFactory<StudioDbContext> dbFactory, StudioPaths paths, RunNotifier notifier, TimeProvider clock, ILogger<ExportJob> logger)
{
    public static string StagingOf(string runDir) => Path.Combine(runDir, "export");

    [AutomaticRetry(Attempts = 1, OnAttemptsExceeded = AttemptsExceededAction.Fail)]
    public async Task RunAsync(int runId, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var claimed = await db.Runs.Where(r => r.Id == runId && (r.Status == RunStatus.Trained || r.Status == RunStatus.Exporting))
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.Status, RunStatus.Exporting), cancellationToken);
        if (claimed == 0) return; // training did not finish (failed, cancelled, interrupted): nothing to export
        notifier.Publish(new RunUpdate(runId, null, RunStatus.Exporting));

        var runDir = paths.Run(runId);
        var staging = StagingOf(runDir);
        if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        var output = new List<string>();
        var result = await SlmProcess.RunAsync(paths.Slm, ["export", runDir, "--out", staging], line =>
        {
            output.Add(line);
            return Task.CompletedTask;
        }, cancellationToken);

        if (result.ExitCode != 0 || !File.Exists(Path.Combine(staging, "model.onnx")))
        {
            logger.LogError("Export of run {RunId} failed with exit code {ExitCode}: {Stderr}", runId, result.ExitCode, result.StandardErrorTail);
            var reason = result.StandardErrorTail.Split('\n').LastOrDefault(l => l.StartsWith("error:", StringComparison.Ordinal))?[6..].Trim();
            await db.Runs.Where(r => r.Id == runId).ExecuteUpdateAsync(s => s
                .SetProperty(r => r.Status, RunStatus.Failed)
                .SetProperty(r => r.FinishedAt, clock.GetUtcNow())
                .SetProperty(r => r.Error, "Training finished, but turning the model into downloadable files failed"
                    + (reason is null ? "." : $": {reason}")), CancellationToken.None);
            notifier.Publish(new RunUpdate(runId, null, RunStatus.Failed));
            return;
        }
        await File.WriteAllLinesAsync(Path.Combine(runDir, "export.log"), output, CancellationToken.None);
    }
}
