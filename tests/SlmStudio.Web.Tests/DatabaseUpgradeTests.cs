using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using SlmStudio.Web.Data;

namespace SlmStudio.Web.Tests;

/// <summary>Start-up over a database written by an older portal.</summary>
public class DatabaseUpgradeTests
{
    [Fact]
    public async Task Upgrading_an_older_database_first_keeps_a_copy_of_it_from_before()
    {
        var root = Path.Combine(Path.GetTempPath(), "slm-web-tests", Guid.NewGuid().ToString("N"));
        var databaseFile = Path.Combine(root, "data", "studio.db");
        Directory.CreateDirectory(Path.GetDirectoryName(databaseFile)!);
        string firstMigration, secondMigration;
        var options = new DbContextOptionsBuilder<StudioDbContext>().UseSqlite($"Data Source={databaseFile};Pooling=false").Options;
        await using (var old = new StudioDbContext(options))
        {
            var all = old.Database.GetMigrations().ToList();
            (firstMigration, secondMigration) = (all[0], all[1]);
            await old.GetService<IMigrator>().MigrateAsync(firstMigration);
        }

        await using (var host = await StudioTestHost.StartAsync(root: root))
        {
            host.KeepFiles = true; // the copy is checked after the host has let go of the files
            await using var db = await host.DbAsync();
            Assert.Empty(await db.Database.GetPendingMigrationsAsync());
        }

        var backup = $"{databaseFile}.before-{secondMigration}";
        Assert.True(File.Exists(backup), $"no copy at {backup}");
        await using var copy = new SqliteConnection($"Data Source={backup};Mode=ReadOnly;Pooling=false");
        await copy.OpenAsync();
        await using var read = copy.CreateCommand();
        read.CommandText = "SELECT group_concat(MigrationId) FROM __EFMigrationsHistory";
        Assert.Equal(firstMigration, (string?)await read.ExecuteScalarAsync());
        await copy.CloseAsync();
        Directory.Delete(root, recursive: true);
    }

    [Fact]
    public async Task A_new_database_needs_no_copy()
    {
        await using var host = await StudioTestHost.StartAsync();
        Assert.Empty(Directory.GetFiles(Path.Combine(host.Root, "data"), "studio.db.before-*"));
    }
}
