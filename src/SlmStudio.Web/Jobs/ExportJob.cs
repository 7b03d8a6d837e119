using Hangfire;
using Microsoft.EntityFrameworkCore;
using SlmStudio.Core.Processes;
using SlmStudio.Core.Training;
using SlmStudio.Web.Data;
using SlmStudio.Web.Options;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Jobs;

/// <summary>
/// Continuation of training: exports the run's best model to ONNX (checked against the training model for parity) into
/// a staging folder that registration then moves into the registry. Runs <c>slm export</c> in a child process, since
/// export loads the model into native memory (TorchSharp and ONNX Runtime) that a crash must not take the portal down with.
/// </summary>
public sealed class ExportJob(IDbContextFactory<StudioDbContext> dbFactory, StudioPaths paths, RunNotifier notifier, IArtifactStore artifacts, TimeProvider clock,
    ILogger<ExportJob> logger)
{
    [AutomaticRetry(Attempts = 1, OnAttemptsExceeded = AttemptsExceededAction.Fail)]
    public async Task RunAsync(int runId, CancellationToken cancellationToken)
    {
        using var logScope = JobLogScope.Begin(logger, runId);
        using var asSystem = Security.StudioUserContext.UseSystem();
        await ExportAsync(runId, cancellationToken);
    }

    /// <summary>
    /// Exports the run unless someone else is exporting or registering it now (another portal over the same folders,
    /// or a second copy of the job), or it was exported already and only waits for registration.
    /// </summary>
    public async Task<ExportOutcome> ExportAsync(int runId, CancellationToken cancellationToken)
    {
        var runKey = SharedFolderArtifactStore.RunKey(runId);
        var folder = RunFolder.At(await artifacts.CheckOutAsync(ArtifactArea.Runs, runKey, cancellationToken));
        // The export lease: an OS lock on the run folder, dropped when this process ends however it ends.
        using var lease = folder.TryLockExport();
        if (lease is null)
        {
            logger.LogInformation("Run {RunId} is being exported or registered by another worker; not exporting it again", runId);
            return ExportOutcome.LeftToAnother;
        }
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var status = await db.Runs.Where(r => r.Id == runId).Select(r => (RunStatus?)r.Status).SingleOrDefaultAsync(cancellationToken);
        if (status is not (RunStatus.Trained or RunStatus.Exporting)) return ExportOutcome.NotTrained; // failed, cancelled, interrupted, done
        // An export that completed (the exporter moves its folder into place as its last step) is not thrown away.
        if (status == RunStatus.Exporting && File.Exists(Path.Combine(folder.ExportDirectory, Core.Artifacts.ArtifactManifest.FileName)))
            return ExportOutcome.AlreadyExported;
        await db.Runs.Where(r => r.Id == runId && (r.Status == RunStatus.Trained || r.Status == RunStatus.Exporting))
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.Status, RunStatus.Exporting), cancellationToken);
        notifier.Publish(new RunUpdate(runId, null, RunStatus.Exporting));

        if (Directory.Exists(folder.ExportDirectory)) Directory.Delete(folder.ExportDirectory, recursive: true);
        string? failure;
        try
        {
            var export = await new SlmLauncher(paths.Slm).ExportAsync(folder.Root, folder.ExportDirectory,
                line => logger.LogInformation("Export of run {RunId}: {Message}", runId, line), cancellationToken);
            failure = FailureMessage(export);
            if (failure is not null)
                logger.LogWarning("slm export of run {RunId} ended with exit code {ExitCode}; stderr: {Stderr}", runId, export.Exit.ExitCode, export.Exit.StandardErrorTail);
        }
        catch (Exception e) when (e is FileNotFoundException or System.ComponentModel.Win32Exception)
        {
            logger.LogError(e, "Export of run {RunId} could not start the engine", runId);
            failure = "Training finished, but turning the model into downloadable files failed: the engine could not be started on this server. Ask your administrator to check the installation.";
        }
        if (failure is null)
        {
            // The exported files, for the worker that registers them.
            await artifacts.CheckInAsync(ArtifactArea.Runs, runKey, CancellationToken.None);
            return ExportOutcome.Exported;
        }

        logger.LogError("Export of run {RunId} failed: {Failure}", runId, failure);
        await db.Runs.Where(r => r.Id == runId).ExecuteUpdateAsync(s => s
            .SetProperty(r => r.Status, RunStatus.Failed)
            .SetProperty(r => r.FinishedAt, clock.GetUtcNow())
            .SetProperty(r => r.Error, failure), CancellationToken.None);
        notifier.Publish(new RunUpdate(runId, null, RunStatus.Failed));
        return ExportOutcome.Failed;
    }

    /// <summary>The message the user sees for an export that did not succeed; null when it did.</summary>
    public static string? FailureMessage(ExportExit export)
    {
        if (export.Succeeded) return null;
        if (export.ParityFailed)
            return "Training finished, but the exported model did not give the same answers as the trained one, so it was not registered. Please report this to your administrator.";
        if (export.Exit.ErrorMessage is { } engine) return $"Training finished, but turning the model into downloadable files failed: {engine}";
        return $"Training finished, but turning the model into downloadable files failed. {export.Exit.Describe("The export process")} If it keeps failing, ask your administrator.";
    }
}

/// <summary>What one export job did.</summary>
public enum ExportOutcome { Exported, AlreadyExported, LeftToAnother, NotTrained, Failed }
