using SlmStudio.Core.Training;
using Hangfire;
using Microsoft.EntityFrameworkCore;
using SlmStudio.Core.Export;
using SlmStudio.Web.Data;
using SlmStudio.Web.Options;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Jobs;

/// <summary>
/// Continuation of training: exports the run's best model to ONNX (checked against the training model for parity) into
/// a staging folder that registration then moves into the registry.
/// </summary>
public sealed class ExportJob(IDbContextFactory<StudioDbContext> dbFactory, StudioPaths paths, RunNotifier notifier, TimeProvider clock, ILogger<ExportJob> logger)
{
    [AutomaticRetry(Attempts = 1, OnAttemptsExceeded = AttemptsExceededAction.Fail)]
    public async Task RunAsync(int runId, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var claimed = await db.Runs.Where(r => r.Id == runId && (r.Status == RunStatus.Trained || r.Status == RunStatus.Exporting))
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.Status, RunStatus.Exporting), cancellationToken);
        if (claimed == 0) return; // training did not finish (failed, cancelled, interrupted): nothing to export
        notifier.Publish(new RunUpdate(runId, null, RunStatus.Exporting));

        var runDir = paths.Run(runId);
        var staging = RunFolder.At(runDir).ExportDirectory;
        if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        string? failure;
        try
        {
            var progress = new Progress<string>(m => logger.LogInformation("Export of run {RunId}: {Message}", runId, m));
            var result = await Task.Run(() => ModelExporter.Export(runDir, staging, progress, cancellationToken), cancellationToken);
            failure = result.Passed ? null
                : "Training finished, but the exported model did not give the same answers as the trained one, so it was not registered. Please report this to your administrator.";
        }
        catch (Core.EngineException e)
        {
            failure = $"Training finished, but turning the model into downloadable files failed: {e.Message}";
        }
        if (failure is null) return;

        logger.LogError("Export of run {RunId} failed: {Failure}", runId, failure);
        await db.Runs.Where(r => r.Id == runId).ExecuteUpdateAsync(s => s
            .SetProperty(r => r.Status, RunStatus.Failed)
            .SetProperty(r => r.FinishedAt, clock.GetUtcNow())
            .SetProperty(r => r.Error, failure), CancellationToken.None);
        notifier.Publish(new RunUpdate(runId, null, RunStatus.Failed));
    }
}
