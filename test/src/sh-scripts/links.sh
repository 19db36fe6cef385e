# Hard links, symlinks, renames over existing names.
mkdir /dir
write /dir/a 'A'
ln /dir/a /dir/b
append /dir/b 'B'
cat /dir/a
stat /dir/a
rm /dir/a
stat /dir/b
symlink b /dir/rel
cat /dir/rel
symlink /dir /abs
cat /abs/rel
stat /abs
write /abs/new 'via link'
cat /dir/new
mv /dir/new /dir/b
cat /dir/b
stat /dir/b
mkdir /dir/sub
mkdir /dir/sub2
write /dir/sub2/f x
mv /dir/sub /dir/sub2
mv /dir/sub2/f /dir/sub
rm /dir/sub2/f
mv /dir/sub /dir/sub2
ls /dir
stat /dir
symlink /dangling /dl
write /dl 'created through a dangling link'
cat /dangling
ls /
truncate /dir/b 100000
stat /dir/b
pwrite /hole 70000 end
stat /hole
