# Error paths a shell user meets, in Linux's order of checks.
cat /nope
mkdir /a/b/c
write /a 'x'
mkdir /a
rmdir /nope
rm /a
rmdir /a/
write /a/ 'x'
mkdir /d
write /d/f 'data'
mkdir /d/f/g
ls /d/f/
mv /d /d/sub
mkdir /e
write /e/x 1
mv /d /e
mv /d/f /e
ln /d /dl
symlink /d/f /d/f
symlink /loop2 /loop1
symlink /loop1 /loop2
cat /loop1
truncate /d 0
truncate /nope 3
chmod 644 /nope
chown 5:5 /nope
as 1000:1000
chmod 777 /d
chown 1000:1000 /d/f
mkdir /d/no
rm /d/f
truncate /d/f 0
stat /d/f
as 0:0
chmod 700 /d
as 1000:1000
stat /d/f
cat /d/f
ls /d
as 0:0
rmdir /e
rm /e/x
rmdir /e
ls /
