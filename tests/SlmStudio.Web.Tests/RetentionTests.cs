using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using SlmStudio.Web.Data;
using SlmStudio.Web.Options;
using SlmStudio.Web.Security;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Tests;

/// <summary>
/// Issue 13: original uploads and their extracted text are kept only until their data is frozen plus the retention
/// period; the sweep deletes them (real files, real SQLite) on a clock the test moves, and says so everywhere the
/// original would have been needed.
/// </summary>
public sealed class RetentionTests
{
    private const string SecretLine = "Write to jane.doe@example.com or pay into GB82WEST12345698765432.";

    private static async Task<DataFile> UploadAsync(StudioTestHost host, int projectId, string name, string text)
    {
        var outcome = await host.Get<DataUploads>().SaveAsync(projectId, name, new MemoryStream(Encoding.UTF8.GetBytes(text)), default);
        Assert.True(outcome.File is not null, $"{name}: {outcome.Problem?.Message}");
        return outcome.File!;
    }

    private static async Task<DataFile> FileAsync(StudioTestHost host, int id)
    {
        await using var db = await host.DbAsync();
        return await db.DataFiles.AsNoTracking().SingleAsync(f => f.Id == id);
    }

    private static OriginalsRetention Sweep(StudioTestHost host, TimeProvider clock) =>
        ActivatorUtilities.CreateInstance<OriginalsRetention>(host.Services, clock);

    [Fact]
    public async Task Frozen_originals_are_deleted_once_the_retention_period_has_passed_and_unfrozen_ones_stay()
    {
        await using var host = await StudioTestHost.StartAsync(new() { ["Studio:Retention:KeepOriginalsDays"] = "2" });
        var uploads = host.Get<DataUploads>();
        var preparation = host.Get<DataPreparation>();
        var project = await host.AddProjectAsync("Retained");
        var handbook = await UploadAsync(host, project.Id, "handbook.txt", DataDocuments.Prose("kettles", 12) + "\n\n" + SecretLine);
        var table = await UploadAsync(host, project.Id, "tickets.csv", "id,body\n" + string.Join("\n", Enumerable.Range(1, 8).Select(i => $"{i},\"Ticket {i}: the blender number {i * 11} stopped\"")));
        await preparation.ExtractAsync(project.Id, default);
        var frozen = await preparation.FreezeAsync(await preparation.ReviewAsync(project.Id), "builder@example.com");
        // Uploaded after the freeze: no dataset version holds it, so it is kept however long it waits.
        var later = await UploadAsync(host, project.Id, "later.txt", DataDocuments.Prose("toasters", 10));
        await preparation.ExtractAsync(project.Id, default);
        string[] frozenFiles = [uploads.StoredPath(handbook), uploads.ExtractedPath(handbook), uploads.StoredPath(table), uploads.ExtractedPath(table)];
        Assert.All(frozenFiles, path => Assert.True(File.Exists(path), path));

        var clock = new FakeTimeProvider(frozen.CreatedAt + TimeSpan.FromDays(2) - TimeSpan.FromMinutes(1));
        Assert.Equal(0, await Sweep(host, clock).DeleteExpiredAsync(default));
        Assert.All(frozenFiles, path => Assert.True(File.Exists(path), path));

        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(2, await Sweep(host, clock).DeleteExpiredAsync(default));
        Assert.All(frozenFiles, path => Assert.False(File.Exists(path), path));
        var deletedAt = (await FileAsync(host, handbook.Id)).OriginalDeletedAt;
        Assert.NotNull(deletedAt);
        Assert.Equal(clock.GetUtcNow().ToUnixTimeMilliseconds(), deletedAt.Value.ToUnixTimeMilliseconds()); // SQLite keeps milliseconds
        Assert.Null((await FileAsync(host, later.Id)).OriginalDeletedAt);
        Assert.True(File.Exists(uploads.StoredPath(later)) && File.Exists(uploads.ExtractedPath(later)));
        // The frozen version is untouched: training still has its data.
        Assert.True(File.Exists(Path.Combine(preparation.FolderOf(frozen), "train.txt")));

        // One audit entry per deletion, with the project and the fact, never the text.
        await using (var db = await host.DbAsync())
        {
            var entries = await db.AuditLog.Where(e => e.Action == AuditActions.OriginalDeleted).OrderBy(e => e.Id).ToListAsync();
            Assert.Equal(2, entries.Count);
            Assert.All(entries, e => Assert.Equal(project.Id, e.ProjectId));
            Assert.All(entries, e => Assert.Equal(OriginalsRetention.RetentionUser, e.UserName));
            Assert.Contains("handbook.txt", entries[0].Detail);
            Assert.Contains($"dataset version {frozen.Id}", entries[0].Detail);
            Assert.DoesNotContain(entries, e => e.Detail.Contains("jane.doe", StringComparison.Ordinal) || e.Detail.Contains("kettle", StringComparison.OrdinalIgnoreCase));
        }

        // A second sweep, however much later, finds nothing more: the later upload was never frozen.
        clock.Advance(TimeSpan.FromDays(30));
        Assert.Equal(0, await Sweep(host, clock).DeleteExpiredAsync(default));

        // What needed the originals says plainly why it cannot, and what to do.
        var review = await Assert.ThrowsAsync<UserFacingException>(() => preparation.ReviewAsync(project.Id));
        Assert.Contains("handbook.txt", review.Message);
        Assert.Contains("retention policy", review.Message);
        var columns = Assert.Throws<UserFacingException>(() => uploads.PreviewTable(table)); // the row as a page loaded it before the sweep
        Assert.Contains("retention policy", columns.Message);
        Assert.Contains($"deleted on {deletedAt:yyyy-MM-dd}", Assert.Throws<UserFacingException>(() => uploads.PreviewTable(FileAsync(host, table.Id).Result)).Message);
        await Assert.ThrowsAsync<UserFacingException>(() => uploads.SetMappingAsync(table.Id, SlmStudio.Core.Data.ColumnMapping.Text("body")));
        // The redacted preview ("Show text") comes from the database and still shows.
        var shown = (await uploads.FilesAsync(project.Id)).Single(f => f.Id == handbook.Id);
        Assert.Contains("kettles", shown.Preview);
        Assert.DoesNotContain("jane.doe@example.com", shown.Preview);

        // Removing the cleared files lets the rest be frozen again.
        await uploads.DeleteAsync(handbook.Id);
        await uploads.DeleteAsync(table.Id);
        await using (var db = await host.DbAsync())
            Assert.Equal(2, await db.AuditLog.CountAsync(e => e.Action == AuditActions.FileDeleted && e.ProjectId == project.Id));
        var next = await preparation.FreezeAsync(await preparation.ReviewAsync(project.Id), "builder@example.com");
        Assert.Equal(1, next.Sources);
    }

    [Fact]
    public async Task By_default_originals_go_at_the_first_sweep_after_freezing()
    {
        await using var host = await StudioTestHost.StartAsync();
        Assert.Equal(0, host.Get<IOptions<RetentionOptions>>().Value.KeepOriginalsDays);
        Assert.Contains("deleted soon after the data is frozen", host.Get<DataUploads>().RetentionPolicy);
        var preparation = host.Get<DataPreparation>();
        var project = await host.AddProjectAsync();
        var file = await UploadAsync(host, project.Id, "notes.txt", DataDocuments.Prose("fridges", 10));
        await preparation.ExtractAsync(project.Id, default);
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        Assert.Equal(0, await Sweep(host, clock).DeleteExpiredAsync(default)); // not frozen yet: kept
        Assert.True(File.Exists(host.Get<DataUploads>().StoredPath(file)));

        var frozen = await preparation.FreezeAsync(await preparation.ReviewAsync(project.Id), "builder@example.com");
        clock.SetUtcNow(frozen.CreatedAt);
        Assert.Equal(1, await Sweep(host, clock).DeleteExpiredAsync(default));
        Assert.False(File.Exists(host.Get<DataUploads>().StoredPath(file)));
        Assert.False(File.Exists(host.Get<DataUploads>().ExtractedPath(file)));
    }

    [Fact]
    public async Task A_negative_retention_period_stops_the_portal_at_start_with_the_setting_named()
    {
        var root = Path.Combine(Path.GetTempPath(), "slm-web-tests", Guid.NewGuid().ToString("N"));
        try
        {
            var error = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
            {
                await using var host = await StudioTestHost.StartAsync(new() { ["Studio:Retention:KeepOriginalsDays"] = "-1" }, root, web: true);
            });
            Assert.Contains("Studio:Retention:KeepOriginalsDays", error.Message);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(root, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task The_sweep_is_on_the_recurring_schedule()
    {
        await using var host = await StudioTestHost.StartAsync(new() { ["Studio:Retention:SweepMinutes"] = "5" }, web: true);
        using var connection = host.Get<Hangfire.JobStorage>().GetConnection();
        var job = Hangfire.Storage.StorageConnectionExtensions.GetRecurringJobs(connection).Single(j => j.Id == OriginalsRetention.RecurringJobId);
        Assert.Equal("*/5 * * * *", job.Cron);
        Assert.Equal(typeof(OriginalsRetention), job.Job.Type);
    }
}
