using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using SlmStudio.Web.Data;

namespace SlmStudio.Web.Tests;

/// <summary>Audit entries written before the ProjectId column carried the project as a "[project N] " prefix of the
/// detail; the migration moves it into the column, and back when it is undone.</summary>
public sealed class AuditProjectIdMigrationTests
{
    [Fact]
    public async Task Project_prefixes_of_older_entries_move_into_the_column_and_back()
    {
        var root = Path.Combine(Path.GetTempPath(), "slm-web-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        try
        {
            var options = new DbContextOptionsBuilder<StudioDbContext>().UseSqlite($"Data Source={Path.Combine(root, "studio.db")};Pooling=false").Options;
            await using var db = new StudioDbContext(options);
            var migrations = db.Database.GetMigrations().ToList();
            var ours = migrations.Single(m => m.EndsWith("_AuditProjectId", StringComparison.Ordinal));
            var before = migrations[migrations.IndexOf(ours) - 1];
            var migrator = db.GetService<IMigrator>();
            await migrator.MigrateAsync(before);
            await db.Database.ExecuteSqlRawAsync("""
                INSERT INTO AuditLog (At, UserName, Action, Detail) VALUES
                  (1, 'a@example.com', 'upload', '[project 7] ''notes.txt'' (12 bytes, file 3)'),
                  (2, 'a@example.com', 'sign-in', 'from 127.0.0.1'),
                  (3, 'a@example.com', 'set alias', '[project 12] ''production'' now points to version 2')
                """);

            await migrator.MigrateAsync(ours);
            var rows = await db.AuditLog.AsNoTracking().OrderBy(e => e.Id).Select(e => new { e.ProjectId, e.Detail }).ToListAsync();
            Assert.Equal([7, null, 12], rows.Select(r => r.ProjectId));
            Assert.Equal(["'notes.txt' (12 bytes, file 3)", "from 127.0.0.1", "'production' now points to version 2"], rows.Select(r => r.Detail));

            await migrator.MigrateAsync(before);
            await using var read = db.Database.GetDbConnection().CreateCommand();
            await db.Database.OpenConnectionAsync();
            read.CommandText = "SELECT group_concat(Detail, '|') FROM (SELECT Detail FROM AuditLog ORDER BY Id)";
            Assert.Equal("[project 7] 'notes.txt' (12 bytes, file 3)|from 127.0.0.1|[project 12] 'production' now points to version 2", (string?)await read.ExecuteScalarAsync());
            await db.Database.CloseConnectionAsync();
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(root, recursive: true); } catch (IOException) { }
        }
    }
}
